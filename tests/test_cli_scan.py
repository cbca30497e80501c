"""`segue scan` and `segue info`: the CLI contract (DESIGN.md)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import audio_fixtures
from audio_fixtures import FULL_TAGS

audio_files = audio_fixtures.audio_files  # the session fixture

SCAN_KEYS = {"added", "updated", "moved", "removed", "unchanged", "errors", "seconds"}


def make_library(audio_files, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for key in ("mp3", "flac", "m4a", "wma-bare"):
        shutil.copy2(audio_files[key], folder / audio_files[key].name)
    (folder / "broken.ogg").write_bytes(b"OggS" + b"\0" * 20)
    return folder


def test_scan_json_contract(segue, audio_files, tmp_path):
    music = make_library(audio_files, tmp_path / "music")
    result = segue("scan", music, "--json")
    assert result.status == 0, result.err
    data = result.json
    assert set(data) == SCAN_KEYS
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in data.values())
    assert (data["added"], data["errors"]) == (4, 1)
    progress = [json.loads(line) for line in result.err.splitlines()]
    assert progress and all(p["event"] == "progress" for p in progress)
    assert progress[-1]["phase"] == "done" and progress[-1]["done"] == progress[-1]["total"]
    again = segue("--json", "scan", music).json
    assert (again["added"], again["unchanged"]) == (0, 4)


def test_scan_text_output(segue, audio_files, tmp_path):
    music = make_library(audio_files, tmp_path / "music")
    result = segue("scan", music)
    assert result.status == 0
    assert "4 added" in result.out and "1 error (" in result.out
    assert "broken.ogg" in result.out
    assert result.err == ""  # no progress line when stderr is not a terminal


def test_scan_nonexistent_path_is_one_line(segue, tmp_path):
    result = segue("scan", tmp_path / "nope")
    assert result.status != 0
    assert result.out == ""
    assert result.err.count("\n") == 1 and "no such file or folder" in result.err
    assert "Traceback" not in result.err


def test_info_json(segue, db, audio_files, tmp_path):
    music = make_library(audio_files, tmp_path / "music")
    segue("scan", music)
    path = music / audio_files["flac"].name
    track_id = db.execute("SELECT id FROM tracks WHERE path = ?", [os.fsencode(path)]).fetchone()[0]
    db.execute(
        "INSERT INTO plays (track_id, started_at, ended_at, ms_played, duration_ms, reason) "
        "VALUES (?, 5000, 6000, 1000, 1000, 'completed'), (?, 9000, 9000, 10, 1000, 'skipped')",
        [track_id, track_id],
    )
    result = segue("info", path, "--json")
    assert result.status == 0, result.err
    data = result.json
    assert data["path"] == str(path) and "path_b64" not in data
    for key in ("title", "artist", "album", "genres", "composer", "isrc", "mb_recording_id"):
        assert data[key] == FULL_TAGS[key], key
    assert 900 < data["duration_ms"] < 1100
    assert data["has_cover"] is True and data["format"] == "flac"
    assert data["plays"] == 1 and data["last_played"] == 5000
    assert "skips" in data
    assert data["features"] is None
    text = segue("info", path)
    assert text.status == 0 and FULL_TAGS["title"] in text.out


def test_info_non_utf8_path(segue, audio_files, tmp_path):
    folder = os.fsencode(tmp_path)
    raw = folder + b"/na\xefve.mp3"
    with open(raw, "wb") as out:
        out.write(audio_files["mp3"].read_bytes())
    assert segue("scan", tmp_path).status == 0
    b64 = base64.b64encode(raw).decode()
    data = segue("info", f"b64:{b64}", "--json").json
    assert data["path_b64"] == b64
    assert base64.b64decode(data["path_b64"]) == raw


def test_info_says_why_a_path_is_not_a_track(segue, db, tmp_path, audio_files):
    """One line that says what the path is and what to do: a folder (with the tracks it
    holds), no file at all, a file outside the library folders, one not scanned yet."""
    music, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    music.mkdir()
    elsewhere.mkdir()
    (music / "a.mp3").write_bytes(audio_files["mp3"].read_bytes())
    assert segue("scan", music).status == 0
    (music / "later.mp3").write_bytes(audio_files["mp3"].read_bytes())
    (elsewhere / "b.mp3").write_bytes(audio_files["mp3"].read_bytes())
    said = {}
    for name, path in {
        "folder": music,
        "missing": music / "never-scanned.mp3",
        "outside": elsewhere / "b.mp3",
        "later": music / "later.mp3",
    }.items():
        result = segue("info", path)
        assert result.status != 0 and result.err.count("\n") == 1, result.err
        said[name] = result.err
    assert "is a folder (it holds 1 track of the library)" in said["folder"]
    assert f"no such file: {music / 'never-scanned.mp3'}" in said["missing"]
    assert (
        "outside your library folders" in said["outside"] and "segue folders add" in said["outside"]
    )
    assert "not in the library yet" in said["later"] and "segue scan" in said["later"]


def test_scan_as_a_real_command(audio_files, tmp_path):
    """The installed console script, end to end, with enough files to start the spawn pool
    (whose workers re-import the script as their __main__)."""
    music = make_library(audio_files, tmp_path / "music")
    for i in range(300):
        shutil.copy2(audio_files["ogg-bare"], music / f"copy{i}.ogg")
    segue = Path(sys.executable).parent / "segue"
    result = subprocess.run(
        [str(segue), "--db", str(tmp_path / "s.db"), "scan", str(music), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == SCAN_KEYS
    assert (data["added"], data["errors"]) == (304, 1)
