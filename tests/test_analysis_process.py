"""The audio analysis in a child process (the player's way) stores exactly what an
in-process analysis stores, reports progress, honours a cancel, and turns a failure into
one line."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_analysis_job import add_track, write_tone

from player_plugin.library.analysis_process import AnalysisProcessError, analyse_in_child
from player_plugin.library.analyze_job import AnalyzeProgress, analyse_library
from player_plugin.store import open_db

ROOT = Path(__file__).resolve().parents[1]


def stored(db_path) -> list[tuple]:
    """Every features row but its time of analysis."""
    db = open_db(db_path)
    try:
        columns = [c.name for c in db["features"].columns if c.name != "analysed_at"]
        return db.execute(f"SELECT {', '.join(columns)} FROM features ORDER BY track_id").fetchall()
    finally:
        db.close()


@pytest.fixture
def two_stores(tmp_path):
    """The same library (three tones and a file that is not audio) in two stores."""
    files = [write_tone(tmp_path / f"t{n}.flac", 220 * (n + 1)) for n in range(3)]
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS but not really" * 100)
    paths = []
    for name in ("here.db", "child.db"):
        db = open_db(tmp_path / name)
        for file in [*files, bad]:
            add_track(db, file)
        db.close()
        paths.append(tmp_path / name)
    return paths


def test_the_child_stores_what_an_in_process_analysis_stores(two_stores):
    here_path, child_path = two_stores
    db = open_db(here_path)
    here = analyse_library(db, workers=0)
    db.close()
    seen: list[AnalyzeProgress] = []
    child = analyse_in_child(child_path, progress=seen.append, workers=0)

    assert (child.analysed, child.failed, child.skipped) == (3, 1, 0)
    assert (child.analysed, child.failed, child.skipped, child.cancelled) == (
        here.analysed,
        here.failed,
        here.skipped,
        here.cancelled,
    )
    rows = stored(child_path)
    assert rows == stored(here_path) and len(rows) == 4
    assert [p.done for p in seen] == [1, 2, 3, 4] and seen[-1].total == 4

    again = analyse_in_child(child_path, workers=0)
    assert (again.analysed, again.failed, again.skipped) == (0, 0, 4)


def test_a_cancelled_child_analysis_stops_and_says_so(two_stores):
    cancel = threading.Event()
    cancel.set()
    summary = analyse_in_child(two_stores[1], cancel=cancel, workers=0)
    assert summary.cancelled
    assert len(stored(two_stores[1])) < 4


def test_a_failing_child_analysis_is_one_line(tmp_path):
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(AnalysisProcessError) as caught:
        analyse_in_child(not_a_db, workers=0)
    assert "not a database" in str(caught.value)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


CANCEL_WHILE_POOLED = """
import sys, threading
from player_plugin.library.analysis_process import analyse_in_child
if __name__ == "__main__":
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    print(analyse_in_child(sys.argv[1], cancel=cancel, workers=2).cancelled)
"""


def test_a_child_cancelled_with_its_pool_running_leaves_nothing_behind(two_stores, tmp_path):
    """The child's stopped worker pool let go of its semaphores before the child ended
    (they were reported as leaked on the player's terminal when it quit mid-analysis)."""
    script = tmp_path / "cancel.py"
    script.write_text(CANCEL_WHILE_POOLED)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script), str(two_stores[1])],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("True", "False")
    assert "leaked" not in done.stderr and "resource_tracker" not in done.stderr, done.stderr


STOPPED_FROM_OUTSIDE = """
import os, signal, sys, threading
from player_plugin.library.analysis_process import analyse_in_child
if __name__ == "__main__":
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())  # as the player takes it
    def first_track(progress):
        if progress.done == 1:  # the pool is running: end the session, every process of it
            os.killpg(0, signal.SIGTERM)
    summary = analyse_in_child(sys.argv[1], progress=first_track, cancel=cancel, workers=2)
    print(summary.cancelled)
"""


def test_a_whole_process_group_stopped_mid_analysis_is_a_cancel(tmp_path):
    """A logout or a service manager sends SIGTERM to every process of the player's group:
    the analysis child and its workers get it too. The child takes it as a cancel (its
    pool let go of its semaphores); nothing is reported as failed, crashed or leaked."""
    db_path = tmp_path / "many.db"
    db = open_db(db_path)
    for n in range(12):
        add_track(db, write_tone(tmp_path / f"t{n}.flac", 200 + 30 * n, seconds=6.0))
    db.close()
    script = tmp_path / "stopped.py"
    script.write_text(STOPPED_FROM_OUTSIDE)
    done = subprocess.run(
        [sys.executable, str(script), str(db_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        start_new_session=True,  # its own process group, which it stops
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"  # stopped mid-analysis
    for words in ("ended without a result", "worker died", "leaked", "Traceback"):
        assert words not in done.stderr, done.stderr
    assert len(stored(db_path)) < 12
