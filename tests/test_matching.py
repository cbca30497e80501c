"""Matching history plays to library tracks: mbid, exact key, fuzzy; precision first."""

from __future__ import annotations

import pytest

from player_plugin.domain.normalize import match_key
from player_plugin.library.history.matching import Matcher, compatible_titles, rematch_unmatched
from player_plugin.library.history.records import HistoryPlay


def add_track(db, artist, title, album=None, *, duration_ms=200_000, mbid=None, missing=0):
    """A library row written directly (the scanner is not needed to test matching)."""
    path = f"/music/{artist}/{album}/{title}.flac".encode()
    cursor = db.execute(
        "INSERT INTO tracks (path, path_text, title, artist, album, duration_ms, "
        "mb_recording_id, match_key, missing, first_seen, last_scanned) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
        [
            path,
            path.decode(),
            title,
            artist,
            album,
            duration_ms,
            mbid,
            match_key(artist, title),
            missing,
        ],
    )
    return cursor.lastrowid


@pytest.fixture
def library(db):
    ids = {
        "joga": add_track(
            db, "Björk", "Jóga", "Homogenic", mbid="aaaaaaaa-0000-4000-8000-000000000001"
        ),
        "come": add_track(db, "The Beatles", "Come Together", "Abbey Road", duration_ms=259_000),
        "come1": add_track(db, "The Beatles", "Come Together", "1", duration_ms=258_000),
        "hello_adele": add_track(db, "Adele", "Hello", "25"),
        "hello_richie": add_track(db, "Lionel Richie", "Hello", "Can't Slow Down"),
        "part1": add_track(db, "Godspeed You! Black Emperor", "Storm Part 1", "Lift"),
        "part2": add_track(db, "Godspeed You! Black Emperor", "Storm Part 2", "Lift"),
        "intro": add_track(db, "The xx", "Intro", "xx"),
        "with": add_track(db, "U2", "With or Without You", "The Joshua Tree"),
        "dance": add_track(db, "Whitney Houston", "I Wanna Dance with Somebody", "Whitney"),
        "get_lucky": add_track(db, "Daft Punk", "Get Lucky", "Random Access Memories"),
        "brightside": add_track(db, "The Killers", "Mr. Brightside", "Hot Fuss"),
    }
    return ids


def match(db, artist, title, album=None, **kw):
    found = Matcher(db).match(artist, title, album, **kw)
    return (found.track_id, found.method) if found else None


def test_mbid_first(db, library):
    assert match(db, "Bjork (live)", "Joga!!", mbid="AAAAAAAA-0000-4000-8000-000000000001") == (
        library["joga"],
        "mbid",
    )


@pytest.mark.parametrize(
    ("artist", "title", "key"),
    [
        ("Bjork", "Joga", "joga"),  # accents
        ("BJÖRK", "JÓGA", "joga"),  # case
        ("Beatles", "Come Together - Remastered 2009", "come"),  # remaster suffix, "The"
        ("The Beatles feat. Billy Preston", "Come Together (feat. Billy Preston)", "come"),
        ("U2", "With or Without You", "with"),  # a title starting with "With"
        ("Killers", "Mr Brightside", "brightside"),  # punctuation
    ],
)
def test_exact_after_normalising(db, library, artist, title, key):
    assert match(db, artist, title) == (library[key], "exact")


def test_same_title_by_different_artists_never_merges(db, library):
    assert match(db, "Adele", "Hello") == (library["hello_adele"], "exact")
    assert match(db, "Lionel Richie", "Hello") == (library["hello_richie"], "exact")
    assert match(db, "Evanescence", "Hello") is None


def test_same_song_on_two_albums_album_then_duration_decide(db, library):
    assert match(db, "The Beatles", "Come Together", "1")[0] == library["come1"]
    assert match(db, "The Beatles", "Come Together", "Abbey Road")[0] == library["come"]
    assert match(db, "The Beatles", "Come Together", duration_ms=258_100)[0] == library["come1"]


def test_fuzzy_typos(db, library):
    assert match(db, "Daft Punk", "Get Lcky") == (library["get_lucky"], "fuzzy")
    assert match(db, "Adele", "Hallo") is None  # too short to trust one changed letter
    assert match(db, "Daft Punkk", "Get Lucky") == (library["get_lucky"], "fuzzy")
    assert match(db, "Whitney Houston", "I Wanna Dance with Somebdy") == (
        library["dance"],
        "fuzzy",
    )


def test_fuzzy_never_crosses_numbers_or_added_words(db, library):
    assert match(db, "Godspeed You Black Emperor", "Storm Part 1")[0] == library["part1"]
    assert match(db, "Godspeed You! Black Emperor", "Storm Part 3") is None
    assert match(db, "The xx", "Intro (Reprise)") is None
    # an added subtitle is an added word: precision first, it stays unmatched
    assert match(db, "Whitney Houston", "I Wanna Dance With Somebody (Who Loves Me)") is None
    assert not compatible_titles("interlude", "interlude ii")
    assert not compatible_titles("part i", "part ii")
    assert compatible_titles("somebody", "somebdy")


def test_fuzzy_respects_known_durations(db, library):
    assert match(db, "Daft Punkk", "Get Lucky", duration_ms=200_500)[1] == "fuzzy"
    assert match(db, "Daft Punkk", "Get Lucky", duration_ms=369_000) is None


def test_collaboration_artist_needs_the_exact_title(db, library):
    assert match(db, "Daft Punk & Pharrell Williams", "Get Lucky") == (
        library["get_lucky"],
        "fuzzy",
    )
    assert match(db, "Daft Punk & Pharrell Williams", "Lose Yourself to Dance") is None


def test_empty_library_and_empty_title(db):
    assert match(db, "Anyone", "Anything") is None
    add_track(db, "A", "B")
    assert match(db, "A", "") is None


def test_match_play_uses_every_field(db, library):
    play = HistoryPlay(started_at=1, artist="Adele", title="Hello", album="25")
    assert Matcher(db).match_play(play).track_id == library["hello_adele"]


def test_rematch_after_the_library_grows(db):
    add_track(db, "Portishead", "Roads", "Dummy")
    db.execute(
        "INSERT INTO plays (started_at, artist, title, album, source, match_key) "
        "VALUES (1700000000000, 'Portishead', 'Sour Times', 'Dummy', 'import', ?), "
        "(1700000300000, 'Portishead', 'Roads', 'Dummy', 'import', ?)",
        [match_key("Portishead", "Sour Times"), match_key("Portishead", "Roads")],
    )
    assert rematch_unmatched(db) == 1  # Roads is in the library already
    sour = add_track(db, "Portishead", "Sour Times", "Dummy")
    assert rematch_unmatched(db) == 1
    assert rematch_unmatched(db) == 0
    rows = db.execute("SELECT track_id, match_method FROM plays ORDER BY started_at").fetchall()
    assert rows[0] == (sour, "exact")
