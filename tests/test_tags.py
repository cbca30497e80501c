"""Reading tags from real files of every format: normalised fields, covers, bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

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
from mutagen import _util as mutagen_util

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


@pytest.mark.parametrize("fmt", ["mp3", "mp3-v23", "flac", "ogg"])  # MP4 holds numbers only
def test_a_disc_and_its_track_in_one_number(tmp_path, fmt):
    """Some rippers write "1-03" (disc 1, track 3): it was read as track 1, so a whole disc
    shared one number and its album could not be played in order. A disc tag wins."""
    cases = [
        ({"track_no": "1-03"}, (3, None, 1)),
        ({"track_no": "2.11/14"}, (11, 14, 2)),
        ({"track_no": "1-03", "disc_no": 2}, (3, None, 2)),
        ({"track_no": "7/9"}, (7, 9, None)),  # the usual form, unchanged
        ({"track_no": "A1"}, (None, None, None)),  # a vinyl side: no number invented
    ]
    for n, (tags, want) in enumerate(cases):
        read = read_tags(write_audio(tmp_path / f"t{n}", fmt, tags=tags))
        assert (read.track_no, read.track_total, read.disc_no) == want, tags


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
                expected = mutagen_util.decode_terminated(payload, encoding, strict)
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


# What a scan must leave exactly as mutagen made it (a host process may use mutagen too).
_SNAPSHOT = """
import sys, mutagen, mutagen.id3, mutagen._util, mutagen.id3._specs, mutagen.id3._frames
def snapshot():
    state = {}
    for name, module in list(sys.modules.items()):
        if name == "mutagen" or name.startswith("mutagen."):
            for key, value in vars(module).items():
                state[(name, key)] = id(value)
                if isinstance(value, type):
                    for attr, inner in vars(value).items():
                        state[(name, key, attr)] = id(inner)
    frames = {k: (id(v), id(v._framespec)) for k, v in mutagen.id3.Frames.items()}
    return state, frames
"""


def test_a_scan_leaves_mutagen_as_it_was(tmp_path):
    """Reading every format (ID3v2.3's UTF-16 text included) changes nothing in mutagen."""
    for fmt in FORMATS:
        write_audio(tmp_path / fmt, fmt, tags=FULL_TAGS, cover=COVER)
    code = _SNAPSHOT + (
        "before = snapshot()\n"
        "import os\n"
        "from player_plugin.library.tags import read_tags\n"
        f"folder = {str(tmp_path)!r}\n"
        "titles = {read_tags(os.path.join(folder, f)).title for f in sorted(os.listdir(folder))}\n"
        "after = snapshot()\n"
        "assert before[1] == after[1], 'mutagen.id3.Frames changed'\n"
        "changed = sorted(k for k in before[0] if k in after[0] and before[0][k] != after[0][k])\n"
        "assert not changed, changed[:5]\n"
        "print(len(titles), sorted(titles)[-1])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split(maxsplit=1) == ["2", FULL_TAGS["title"] + "\n"]


def test_id3v23_utf16_text_reads_as_mutagen_reads_it_and_fast(tmp_path):
    """The case the old patch of mutagen handled: long UTF-16 text in ID3v2.3, which mutagen
    decodes a byte at a time. Segue reads the same frames, several times faster."""
    import mutagen.id3 as id3

    from player_plugin.library import tags as tags_module

    lyrics = "Ünïcode Sóng — 日本語 🎵 " * 2000
    path = write_audio(tmp_path / "long", "mp3-v23", tags=FULL_TAGS, cover=COVER)
    tagger = id3.ID3(path)
    tagger.add(id3.USLT(encoding=id3.Encoding.UTF16, lang="eng", desc="words", text=lyrics))
    tagger.add(id3.COMM(encoding=id3.Encoding.UTF16, lang="eng", desc="", text=["x\x00y"]))
    tagger.save(path, v2_version=3)

    def best(read) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            read()
            times.append(time.perf_counter() - start)
        return min(times)

    theirs = id3.ID3(path)
    ours = id3.ID3(path, known_frames=tags_module._ID3_FRAMES)
    assert ours.pprint() == theirs.pprint()
    assert str(ours["USLT:words:eng"]) == lyrics
    assert read_tags(path).title == FULL_TAGS["title"]
    slow = best(lambda: id3.ID3(path))
    fast = best(lambda: read_tags(path))
    assert fast * 3 < slow, (fast, slow)
