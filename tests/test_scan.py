"""Scanning folders into the store: every format, incremental rescans, moves, bad input."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import audio_fixtures
import pytest
from audio_fixtures import COVER, FULL_TAG_FORMATS, FULL_TAGS, SCANNED_FORMAT, write_audio
from test_library_changes import _in_another_process

from player_plugin.domain.normalize import match_key
from player_plugin.library import scanner
from player_plugin.library.scanner import ScanError, scan
from player_plugin.store import open_db
from player_plugin.store.tracks import get_track, scan_errors, track_by_path

audio_files = audio_fixtures.audio_files  # the session fixture


def library(audio_files, folder: Path, formats=FULL_TAG_FORMATS) -> dict[str, Path]:
    """Copies of the session's files (tagged and bare) under *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for fmt in formats:
        for key in (fmt, f"{fmt}-bare"):
            if key in audio_files:
                out[key] = Path(shutil.copy2(audio_files[key], folder / audio_files[key].name))
    return out


def tracks(db) -> list[dict]:
    return list(db.query("SELECT * FROM tracks ORDER BY id"))


def add_play(db, track_id: int) -> None:
    db.execute(
        "INSERT INTO plays (track_id, started_at, ended_at, ms_played, duration_ms, reason) "
        "VALUES (?, 1000, 2000, 1000, 1000, 'completed')",
        [track_id],
    )


def test_every_format_becomes_a_track(db, audio_files, tmp_path):
    files = library(audio_files, tmp_path / "music")
    summary = scan(db, [tmp_path / "music"])
    assert (summary.added, summary.errors, summary.removed) == (len(files), 0, 0)
    for key, path in files.items():
        row = track_by_path(db, os.fsencode(path))
        assert row is not None, key
        fmt = key.removesuffix("-bare")
        assert row["format"] == SCANNED_FORMAT[fmt]
        assert row["path_text"] == str(path)
        assert row["size"] == path.stat().st_size
        assert row["mtime_ns"] == path.stat().st_mtime_ns
        assert row["duration_ms"] > 900 and row["sample_rate"] and row["channels"] == 2
        assert row["bitrate"] > 0
        assert row["signature"] and row["missing"] is False
        if key.endswith("-bare"):
            assert row["title"] == path.stem and row["artist"] is None
            assert row["has_cover"] is False and row["genres"] == []
        else:
            assert row["title"] == FULL_TAGS["title"]
            assert row["genres"] == FULL_TAGS["genres"]
            assert row["artists"] == FULL_TAGS["artists"]
            assert row["has_cover"] is True
            assert row["match_key"] == match_key(FULL_TAGS["artist"], FULL_TAGS["title"])
            for field in ("album", "album_artist", "composer", "isrc", "mb_recording_id"):
                assert row[field] == FULL_TAGS[field], (key, field)
            assert (row["track_no"], row["disc_no"], row["year"]) == (3, 1, 1997)
    genres = db.execute("SELECT genres FROM tracks WHERE has_cover = 1").fetchone()[0]
    assert json.loads(genres) == FULL_TAGS["genres"]


def test_unchanged_files_are_not_read_again(db, audio_files, tmp_path, monkeypatch):
    files = library(audio_files, tmp_path / "music", formats=("mp3", "flac"))
    scan(db, [tmp_path / "music"])
    reads = []
    real = scanner.try_read_tags
    monkeypatch.setattr(scanner, "try_read_tags", lambda p: reads.append(p) or real(p))
    summary = scan(db, [tmp_path / "music"])
    assert summary.unchanged == len(files) and summary.added == summary.updated == 0
    assert reads == []


def test_changed_file_is_reread(db, audio_files, tmp_path):
    music = tmp_path / "music"
    write_audio(music / "song.flac", "flac", tags={"title": "Before", "artist": "A"})
    scan(db, [music])
    before = track_by_path(db, os.fsencode(music / "song.flac"))
    add_play(db, before["id"])
    write_audio(music / "song.flac", "flac", seconds=2.0, tags={"title": "After", "artist": "A"})
    summary = scan(db, [music])
    assert (summary.updated, summary.added, summary.moved) == (1, 0, 0)
    after = track_by_path(db, os.fsencode(music / "song.flac"))
    assert after["id"] == before["id"] and after["title"] == "After"
    assert after["duration_ms"] > 1900
    assert after["first_seen"] == before["first_seen"]
    assert db.execute("SELECT count(*) FROM plays WHERE track_id = ?", [after["id"]]).fetchone()[0]


def test_added_deleted_and_restored(db, audio_files, tmp_path):
    files = library(audio_files, tmp_path / "music", formats=("mp3", "ogg"))
    scan(db, [tmp_path / "music"])
    gone = track_by_path(db, os.fsencode(files["mp3"]))
    add_play(db, gone["id"])
    kept = files["mp3"].read_bytes()
    stat = files["mp3"].stat()
    files["mp3"].unlink()
    write_audio(tmp_path / "music" / "new.wav", "wav", tags={"title": "New"})

    summary = scan(db, [tmp_path / "music"])
    assert (summary.added, summary.removed, summary.unchanged) == (1, 1, len(files) - 1)
    row = get_track(db, gone["id"])
    assert row["missing"] is True
    assert db.execute("SELECT count(*) FROM plays WHERE track_id = ?", [gone["id"]]).fetchone()[0]
    # scanning again does not count it as removed twice
    assert scan(db, [tmp_path / "music"]).removed == 0

    files["mp3"].write_bytes(kept)
    os.utime(files["mp3"], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    summary = scan(db, [tmp_path / "music"])
    assert (summary.updated, summary.restored, summary.added) == (1, 1, 0)
    assert get_track(db, gone["id"])["missing"] is False


@pytest.mark.parametrize("where", ["rename", "subfolder", "other-root"])
def test_moved_file_keeps_its_id_and_plays(db, audio_files, tmp_path, where):
    music, other = tmp_path / "music", tmp_path / "other"
    files = library(audio_files, music, formats=("flac", "m4a"))
    other.mkdir()
    scan(db, [music, other])
    old = track_by_path(db, os.fsencode(files["flac"]))
    add_play(db, old["id"])
    target = {
        "rename": music / "renamed.flac",
        "subfolder": music / "a" / "b" / "moved.flac",
        "other-root": other / "moved.flac",
    }[where]
    target.parent.mkdir(parents=True, exist_ok=True)
    files["flac"].rename(target)
    summary = scan(db, [music, other])
    assert (summary.moved, summary.added, summary.removed) == (1, 0, 0)
    new = track_by_path(db, os.fsencode(target))
    assert new["id"] == old["id"] and new["missing"] is False
    assert track_by_path(db, os.fsencode(files["flac"])) is None
    assert db.execute("SELECT track_id FROM plays").fetchone()[0] == old["id"]


def test_missing_file_found_later_elsewhere_is_a_move(db, audio_files, tmp_path):
    files = library(audio_files, tmp_path / "music", formats=("opus",))
    scan(db, [tmp_path / "music"])
    old = track_by_path(db, os.fsencode(files["opus"]))
    stash = tmp_path / "stash.opus"
    files["opus"].rename(stash)
    assert scan(db, [tmp_path / "music"]).removed == 1
    stash.rename(tmp_path / "music" / "back.opus")
    summary = scan(db, [tmp_path / "music"])
    assert summary.moved == 1 and summary.added == 0
    assert get_track(db, old["id"])["missing"] is False


def test_copy_is_a_new_track_not_a_move(db, audio_files, tmp_path):
    files = library(audio_files, tmp_path / "music", formats=("wv",))
    scan(db, [tmp_path / "music"])
    shutil.copy2(files["wv"], tmp_path / "music" / "copy.wv")
    summary = scan(db, [tmp_path / "music"])
    assert (summary.added, summary.moved) == (1, 0)


def test_other_roots_are_left_alone(db, audio_files, tmp_path):
    library(audio_files, tmp_path / "a", formats=("mp3",))
    library(audio_files, tmp_path / "b", formats=("ogg",))
    scan(db, [tmp_path / "a", tmp_path / "b"])
    summary = scan(db, [tmp_path / "a"])
    assert summary.removed == 0
    assert db.execute("SELECT count(*) FROM tracks WHERE missing = 1").fetchone()[0] == 0


def test_bad_files_are_errors_and_the_scan_goes_on(db, audio_files, tmp_path):
    music = tmp_path / "music"
    library(audio_files, music, formats=("mp3", "flac"))
    (music / "empty.mp3").write_bytes(b"")
    (music / "notes.flac").write_text("not music at all\n" * 50)
    (music / "cut.m4a").write_bytes(audio_files["m4a"].read_bytes()[:100])
    (music / "cover.jpg").write_bytes(COVER)  # not audio: ignored, not an error
    summary = scan(db, [music])
    assert summary.added == 4 and summary.errors == 3
    errors = {Path(os.fsdecode(e["path"])).name: e["reason"] for e in scan_errors(db)}
    assert set(errors) == {"empty.mp3", "notes.flac", "cut.m4a"}
    assert "empty file" in errors["empty.mp3"]
    assert all(reason for reason in errors.values())
    # fixed files clear their error; files that are gone clear theirs too
    shutil.copy2(audio_files["mp3"], music / "empty.mp3")
    (music / "notes.flac").unlink()
    summary = scan(db, [music])
    assert summary.errors == 1 and summary.added == 1
    assert [Path(os.fsdecode(e["path"])).name for e in scan_errors(db)] == ["cut.m4a"]


def test_non_utf8_names_round_trip(db, audio_files, tmp_path):
    folder = os.fsencode(tmp_path / "m\xfcsic")  # a UTF-8 folder
    os.mkdir(folder)
    raw = folder + b"/caf\xe9 \xff.mp3"  # Latin-1 bytes: not UTF-8
    with open(raw, "wb") as out:
        out.write(audio_files["mp3-bare"].read_bytes())
    summary = scan(db, [folder])
    assert summary.added == 1 and summary.errors == 0
    row = track_by_path(db, raw)
    assert row["path"] == raw
    assert "\ufffd" in row["path_text"]
    with open(row["path"], "rb") as again:  # the stored bytes still open the file
        assert again.read(3)
    assert row["title"] == "caf\ufffd \ufffd"


def test_symlink_loops_and_duplicate_roots(db, audio_files, tmp_path):
    music = tmp_path / "music"
    library(audio_files, music / "sub", formats=("mp3",))
    os.symlink("..", music / "sub" / "up")  # loop back to the parent
    os.symlink(music, music / "sub" / "again")
    os.symlink("self.mp3", music / "self.mp3")  # a link to itself
    os.symlink("nowhere.flac", music / "dangling.flac")
    os.symlink(music / "sub" / audio_files["mp3"].name, music / "alias.mp3")  # same file
    summary = scan(db, [music, music, str(music) + "/", music / "sub", music / "sub" / "up"])
    assert summary.added == 2  # the two mp3 files, each once
    assert summary.errors == 2  # self.mp3 and dangling.flac
    assert db.execute("SELECT count(*) FROM tracks").fetchone()[0] == 2


def test_single_file_root(db, audio_files, tmp_path):
    path = library(audio_files, tmp_path / "m", formats=("wma",))["wma"]
    summary = scan(db, [path])
    assert summary.added == 1
    assert track_by_path(db, os.fsencode(path))["format"] == "wma"


def test_nothing_to_scan_is_an_error(db):
    with pytest.raises(ScanError):
        scan(db, [])


def test_long_tags_are_capped_in_the_store(db, tmp_path):
    write_audio(
        tmp_path / "m" / "long.ogg",
        "ogg",
        tags={"title": "t" * 100_000, "artist": "a" * 50_000, "genres": ["g"] * 3 + ["h"] * 3},
    )
    assert scan(db, [tmp_path / "m"]).added == 1
    row = tracks(db)[0]
    assert len(row["title"]) == 1024 and len(row["artist"]) == 1024
    assert json.loads(row["genres"]) == ["g", "h"]


def test_progress_and_cancel_keep_what_was_written(db, audio_files, tmp_path, monkeypatch):
    music = tmp_path / "music"
    music.mkdir()
    for i in range(40):
        shutil.copy2(audio_files["flac-bare"], music / f"{i:02}.flac")
    monkeypatch.setattr(scanner, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(scanner, "BATCH_FILES", 5)
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if p.phase == "read" and p.done >= 12:
            cancel.set()

    summary = scan(db, [music], progress=progress, cancel=cancel, workers=0)
    assert summary.cancelled and summary.added == 12
    assert db.execute("SELECT count(*) FROM tracks").fetchone()[0] == 12
    assert seen[0].phase == "walk" and seen[-1].phase == "done"
    assert any(p.phase == "read" and p.current.endswith(".flac") for p in seen)

    summary = scan(db, [music], progress=seen.append, workers=0)
    assert (summary.added, summary.unchanged, summary.cancelled) == (28, 12, False)
    assert (seen[-1].done, seen[-1].total) == (40, 40)


def test_cancel_during_walk_never_flags_missing(db, audio_files, tmp_path):
    library(audio_files, tmp_path / "music", formats=("mp3", "flac"))
    scan(db, [tmp_path / "music"])
    cancel = threading.Event()
    cancel.set()
    summary = scan(db, [tmp_path / "music"], cancel=cancel)
    assert summary.cancelled and summary.removed == 0
    assert db.execute("SELECT count(*) FROM tracks WHERE missing = 1").fetchone()[0] == 0


def test_pool_of_spawned_workers(db, audio_files, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    sources = [audio_files[key] for key in ("mp3", "flac", "ogg", "m4a-bare")]
    count = scanner.POOL_MIN_FILES + 20
    for i in range(count):
        source = sources[i % len(sources)]
        shutil.copy2(source, music / f"{i:03}{source.suffix}")
    (music / "broken.mp3").write_bytes(b"\xff" * 10)
    started = time.monotonic()
    summary = scan(db, [music], workers=2)
    assert summary.added == count and summary.errors == 1
    assert time.monotonic() - started < 30
    assert db.execute("SELECT count(DISTINCT format) FROM tracks").fetchone()[0] == 4


def test_vanished_root_is_an_error_not_a_mass_removal(db, audio_files, tmp_path):
    """An unmounted drive: its folder is gone, so its tracks are unknown, not deleted."""
    music = tmp_path / "drive" / "music"
    library(audio_files, music, formats=("mp3", "flac"))
    scan(db, [music])
    (tmp_path / "drive").rename(tmp_path / "elsewhere")
    summary = scan(db, [music])
    assert summary.errors == 1 and summary.removed == 0
    assert db.execute("SELECT count(*) FROM tracks WHERE missing = 1").fetchone()[0] == 0
    assert "cannot open" in scan_errors(db)[0]["reason"]


def test_a_store_scanned_before_disc_track_numbers_reads_them_again(tmp_path):
    """A store whose scan read "1-03" as track 1 (before migration 0006): the next scan
    reads that album's files again and its tracks get their own numbers; a plain album
    is not read again."""
    folder, path = tmp_path / "music", tmp_path / "old.db"
    for n in (1, 2, 3):
        write_audio(
            folder / "Set" / f"{n:02d}",
            "flac",
            tags={"album": "Set", "artist": "A", "title": f"S{n}", "track_no": f"1-0{n}"},
        )
        write_audio(
            folder / "Plain" / f"{n:02d}",
            "flac",
            tags={"album": "Plain", "artist": "B", "title": f"P{n}", "track_no": n},
        )
    db = open_db(path)
    scan(db, [folder], workers=0)
    db.close()
    _in_another_process(  # as the reader before wrote it, and the migration not yet run
        path,
        "UPDATE tracks SET track_no = 1, disc_no = NULL WHERE album = 'Set';"
        "DELETE FROM _sqlite_migrations WHERE name = '0006_reread_shared_track_numbers';",
    )
    db = open_db(path)  # migrates
    try:
        summary = scan(db, [folder], workers=0)
        assert (summary.updated, summary.unchanged) == (3, 3)
        numbers = {r["title"]: (r["disc_no"], r["track_no"]) for r in tracks(db)}
        assert numbers == {
            "S1": (1, 1), "S2": (1, 2), "S3": (1, 3), "P1": (None, 1), "P2": (None, 2),
            "P3": (None, 3),
        }  # fmt: skip
    finally:
        db.close()
