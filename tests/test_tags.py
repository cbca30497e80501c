"""Reading tags from real files of every format: normalised fields, covers, bad input."""

from __future__ import annotations

import shutil

import audio_fixtures
import pytest
from audio_fixtures import (
    COVER,
    FORMATS,
    FULL_TAG_FORMATS,
    FULL_TAGS,
    SCANNED_FORMAT,
    FailingFile,
    write_audio,
)
from hypothesis import given
from hypothesis import strategies as st

from player_plugin.library.tags import (
    MAX_TEXT,
    MAX_VALUES,
    TagError,
    TrackTags,
    is_audio_name,
    read_cover,
    read_tags,
    try_read_tags,
)

audio_files = audio_fixtures.audio_files  # the session fixture

NORMALISED = (
    "title",
    "artist",
    "artists",
    "album",
    "album_artist",
    "genres",
    "date",
    "track_no",
    "track_total",
    "disc_no",
    "disc_total",
    "composer",
    "isrc",
    "mb_recording_id",
    "mb_artist_id",
    "mb_release_id",
    "replaygain_track_gain",
    "replaygain_album_gain",
)


@pytest.mark.parametrize("fmt", FULL_TAG_FORMATS)
def test_every_field_of_every_format(audio_files, fmt):
    tags = read_tags(audio_files[fmt])
    assert tags.format == SCANNED_FORMAT[fmt]
    for key in NORMALISED:
        assert getattr(tags, key) == FULL_TAGS[key], key
    assert tags.year == 1997
    assert tags.bpm == 120.0
    assert tags.has_cover is True
    assert tags.title_from_name is False
    assert 950 <= tags.duration_ms <= 1100
    assert tags.sample_rate in (44100, 48000)
    assert tags.channels == 2
    assert tags.codec


@pytest.mark.parametrize("fmt", FULL_TAG_FORMATS)
def test_cover_bytes_come_back(audio_files, fmt):
    assert read_cover(audio_files[fmt]) == COVER
    assert read_cover(audio_files[f"{fmt}-bare"]) is None


def test_codecs_are_told_apart(audio_files):
    assert read_tags(audio_files["m4a"]).codec == "aac"
    assert read_tags(audio_files["alac"]).codec == "alac"
    assert read_tags(audio_files["flac"]).codec == "flac"
    assert read_tags(audio_files["opus"]).codec == "opus"


def test_id3v1_only(audio_files):
    tags = read_tags(audio_files["mp3-v1"])
    assert (tags.title, tags.artist, tags.album) == (
        "Plain Title",
        "Björk feat. Someone",
        "Homogénic",
    )
    assert tags.year == 1997
    assert tags.track_no == 3
    assert tags.genres == ["Rock"]
    assert tags.has_cover is False


@pytest.mark.parametrize("fmt", FULL_TAG_FORMATS)
def test_untagged_file_is_titled_by_its_name(audio_files, fmt):
    tags = read_tags(audio_files[f"{fmt}-bare"])
    assert tags.title == f"bare-{fmt}"
    assert tags.title_from_name is True
    assert tags.artist is None and tags.genres == [] and tags.has_cover is False
    assert tags.duration_ms > 900


def test_absurd_values_are_capped(tmp_path):
    path = write_audio(
        tmp_path / "huge",
        "flac",
        tags={
            "title": "x" * 200_000,
            "genres": [f"g{i}" for i in range(500)],
            "track_no": "99999999999999999999",
            "date": "year zero",
            "bpm": "fast",
        },
    )
    tags = read_tags(path)
    assert len(tags.title) == MAX_TEXT
    assert len(tags.genres) == MAX_VALUES
    assert tags.track_no is None and tags.year is None and tags.bpm is None


def test_genre_lists_and_numbering_variants(tmp_path):
    path = write_audio(
        tmp_path / "v", "ogg", tags={"genres": ["Rock; Pop", "Rock"], "track_no": " 7 / 9"}
    )
    tags = read_tags(path)
    assert tags.genres == ["Rock", "Pop"]
    assert (tags.track_no, tags.track_total) == (7, 9)


def test_mislabelled_extension_is_still_read(audio_files, tmp_path):
    wrong = tmp_path / "really-flac.mp3"
    shutil.copy(audio_files["flac"], wrong)
    assert read_tags(wrong).format == "flac"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.mp3", b"", "empty file"),
        ("text.mp3", b"just some notes, not music\n" * 40, "cannot read"),
        ("text.flac", b"just some notes, not music\n" * 40, "cannot read"),
        ("junk.m4a", bytes(range(256)) * 8, "cannot read"),
        ("junk.wma", b"\x00" * 3000, "cannot read"),
    ],
)
def test_non_audio_is_a_tag_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TagError, match=reason) as info:
        read_tags(path)
    assert info.value.path == bytes(path)
    result = try_read_tags(path)
    assert isinstance(result, TagError) and reason in result.reason


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files_never_raise_anything_else(audio_files, tmp_path, fmt):
    data = audio_files[fmt].read_bytes()
    for keep in (0, 4, 40, 200, len(data) // 3, len(data) - 1):
        path = tmp_path / f"cut{keep}{audio_files[fmt].suffix}"
        path.write_bytes(data[:keep])
        result = try_read_tags(path)
        assert isinstance(result, TrackTags | TagError)
        if keep == 0:
            assert isinstance(result, TagError)


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_faults_become_tag_errors(audio_files, fmt):
    """A file object that fails after N operations: a clean TagError every time, and the
    full read once the budget is big enough."""
    path = audio_files[fmt]
    data = path.read_bytes()
    full = read_tags(path)
    budget = 0
    while True:
        try:
            got = read_tags(path, fileobj=FailingFile(data, budget))
        except TagError as exc:
            assert exc.path == bytes(path)
            assert "Input/output error" in exc.reason or "cannot read" in exc.reason
            budget += 1
            assert budget < 2000
            continue
        assert got == full
        break
    assert budget > 0  # the fault really fired at least once


def test_missing_file_is_a_tag_error(tmp_path):
    result = try_read_tags(tmp_path / "gone.mp3")
    assert isinstance(result, TagError)
    assert "No such file" in result.reason


def test_audio_names():
    assert is_audio_name(b"A.MP3") and is_audio_name(b"x.flac") and is_audio_name(b"y.wv")
    assert is_audio_name(b"z.ape") and is_audio_name(b"z.mpc") and is_audio_name(b"z.opus")
    assert not is_audio_name(b"cover.jpg") and not is_audio_name(b"notes.txt")


def test_tag_error_survives_pickling(tmp_path):
    import pickle

    error = TagError(b"/music/caf\xe9.mp3", "cannot read: broken")
    again = pickle.loads(pickle.dumps(error))
    assert (again.path, again.reason) == (error.path, error.reason)
    assert "caf\ufffd.mp3" in str(again)


@given(
    st.text(max_size=40),
    st.binary(max_size=20),
    st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]),
)
def test_fast_utf16_decoding_matches_mutagen(text, tail, encoding):
    """The UTF-16 fast path gives exactly what mutagen's own byte-by-byte decoder gives."""
    from player_plugin.library import tags as tags_module

    data = text.encode(encoding, "surrogatepass") + tail
    for payload in (data, data + b"\x00\x00", b"\x00" + data):
        for strict in (True, False):
            try:
                expected = tags_module._slow_decode_terminated(payload, encoding, strict)
            except (ValueError, UnicodeError) as exc:
                expected = type(exc)
            try:
                got = tags_module._decode_terminated(payload, encoding, strict)
            except (ValueError, UnicodeError) as exc:
                got = type(exc)
            assert got == expected


def test_read_cover_never_raises(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\x00" * 64)
    assert read_cover(junk) is None
    assert read_cover(tmp_path / "absent.flac") is None
