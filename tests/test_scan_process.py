"""A scan in a child process (the GUI's way) stores exactly what an in-process scan stores,
reports progress, honours a cancel, and turns a failure into one line."""

from __future__ import annotations

import shutil
import threading

import audio_fixtures
import pytest
from test_scan_speed import scanned_rows

from player_plugin.library.scan_process import ScanProcessError, scan_in_child
from player_plugin.library.scanner import ScanProgress, scan
from player_plugin.store import open_db

audio_files = audio_fixtures.audio_files  # the session fixture


@pytest.fixture
def music(audio_files, tmp_path):
    folder = tmp_path / "mÿsic — 音楽"
    folder.mkdir()
    for i, source in enumerate(sorted(audio_files.values())):
        shutil.copy2(source, folder / f"{i:02d} ♪ {source.name}")
    (folder / "broken.mp3").write_bytes(b"\xff" * 10)
    return folder


def test_the_child_stores_what_an_in_process_scan_stores(music, tmp_path):
    here = scan(open_db(tmp_path / "here.db"), [music], workers=0)
    seen: list[ScanProgress] = []
    child = scan_in_child(tmp_path / "child.db", [music], progress=seen.append, workers=0)

    assert child.as_json() | {"seconds": 0} == here.as_json() | {"seconds": 0}
    assert child.error_list == here.error_list and child.errors == 1
    tracks, errors = scanned_rows(tmp_path / "child.db")
    assert (tracks, errors) == scanned_rows(tmp_path / "here.db")
    assert len(tracks) == here.added > 10
    assert seen and seen[-1].phase == "done" and seen[-1].done == here.added + 1

    # and a rescan in the child finds everything unchanged, as one here does
    again = scan_in_child(tmp_path / "child.db", [music])
    assert again.unchanged == here.added and again.added == again.updated == 0
    assert scanned_rows(tmp_path / "child.db") == (tracks, errors)


def test_a_cancelled_child_scan_stops_and_says_so(music, tmp_path):
    cancel = threading.Event()
    cancel.set()
    summary = scan_in_child(tmp_path / "c.db", [music], cancel=cancel, workers=0)
    assert summary.cancelled
    assert len(scanned_rows(tmp_path / "c.db")[0]) < len(list(music.iterdir())) - 1


def test_a_failing_child_scan_is_one_line(music, tmp_path):
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(ScanProcessError) as caught:
        scan_in_child(not_a_db, [music])
    assert "cannot open database" in str(caught.value)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
