"""Match-key normalisation: what must fold together, and what must stay apart."""

from __future__ import annotations

import pytest

from player_plugin.domain.normalize import clean_artist, clean_title, fold, match_key


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Come Together - Remastered 2009", "come together"),
        ("Come Together (2019 Remaster)", "come together"),
        ("Here Comes the Sun - 2019 Mix", "here comes the sun"),
        ("Hey Jude - 50th Anniversary Remaster", "hey jude"),
        ("Heroes - Single Version", "heroes"),
        ("Song (feat. Somebody & Other)", "song"),
        ("Song [ft. Somebody]", "song"),
        ("Song feat. Somebody", "song"),
        ("Song featuring Somebody", "song"),
        ("Song (with Somebody)", "song"),
        ("Hello (2011 Remaster) [feat. X]", "hello"),
        ("Jóga", "joga"),
        ("Don't Stop Me Now", "dont stop me now"),
        ("P.Y.T. (Pretty Young Thing)", "pyt pretty young thing"),
    ],
)
def test_clean_title_removes_credits_and_edition_suffixes(title, expected):
    assert clean_title(title) == expected


@pytest.mark.parametrize(
    "title",
    [
        "With or Without You",  # the old regex cut a title starting with "With" to nothing
        "With a Little Help from My Friends",
        "Dance with Me",  # ... and cut "with" anywhere: "dance"
        "Stay With Me",
        "Featherstone",
        "Live and Let Die",
        "Remaster Me Baby",
    ],
)
def test_with_and_other_words_inside_titles_are_kept(title):
    assert clean_title(title) == fold(title)


def test_with_titles_stay_distinct():
    assert clean_title("Dance with Me") != clean_title("Dance")
    assert match_key("U2", "With or Without You") != match_key("U2", "Without You")


@pytest.mark.parametrize(
    ("artist", "expected"),
    [
        ("The Beatles", "beatles"),
        ("Beatles, The", "beatles"),
        ("BEYONCÉ feat. Jay-Z", "beyonce"),
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("Sigur Rós", "sigur ros"),
        ("Prince with The Revolution", "prince with the revolution"),
        ("Theatre of Tragedy", "theatre of tragedy"),
    ],
)
def test_clean_artist(artist, expected):
    assert clean_artist(artist) == expected


def test_match_key_joins_variants_of_one_song():
    variants = [
        ("The Beatles", "Come Together"),
        ("Beatles", "Come Together - Remastered 2009"),
        ("the beatles", "COME TOGETHER"),
        ("The Beatles feat. Billy Preston", "Come Together (feat. Billy Preston)"),
    ]
    assert len({match_key(a, t) for a, t in variants}) == 1


def test_same_title_different_artists_differ():
    assert match_key("Adele", "Hello") != match_key("Lionel Richie", "Hello")


def test_empty_and_none():
    assert fold(None) == "" and clean_title(None) == "" and clean_artist("") == ""
    assert match_key(None, None) == "\x1f"
