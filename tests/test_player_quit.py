"""Quitting the busy reference player is clean: the full player (``segue gui``, plugin
docked, suggestions loading, a rescan and an audio analysis running) is started as a
subprocess and quit by File ▸ Quit, by closing its window, or by SIGTERM; every run exits
with status 0, says nothing on stderr about deleted Qt objects (nor Qt Multimedia's
banner), and leaves no Qt object for Python's teardown nor in reference cycles for its
collector (Qt deletes the window on the GUI thread as its event loop ends), and saves the
window state.

The many-runs test is marked slow (``make test`` runs it); SEGUE_QUIT_RUNS changes how
many quits it makes (default 50), three players at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from ui_support import played, write_library

from player_plugin.app.importing import ImportSession
from player_plugin.store.db import open_db
from player_plugin.ui.prefs import Prefs

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("quit_player.py")
MODES = ("action", "close", "signal")
AT_ONCE = 3
BAD = re.compile(
    r"QObject|deleted|destroyed|Fatal Python error|Segmentation fault|Traceback|"
    r"left for Python's teardown|QThread|QBasicTimer|QSocketNotifier|"
    r"Using Qt multimedia",  # Qt Multimedia's banner is not for listeners
)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A scanned library with a played history, audio analysis on, and a folder of new
    files that every started player rescans (the database is copied for each run)."""
    root = tmp_path_factory.mktemp("quit")
    write_library(root / "music", artists=4, per_artist=3)
    ImportSession(root / "segue.db").scan([os.fsencode(root / "music")])
    db = open_db(root / "segue.db")
    tracks = list(db.query("SELECT id, path FROM tracks ORDER BY id"))
    played(db, tracks, played_ids={t["id"] for t in tracks[:8]})
    Prefs(autoplay=False, retrain_policy="manual", analyse_audio=True).save(db)
    db.close()
    write_library(root / "music" / "new", artists=4, per_artist=6)
    return root


def quit_once(library: Path, run: int, mode: str, delay_ms: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"run{run}-", dir=library))
    shutil.copy(library / "segue.db", folder / "segue.db")
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    env.update(PYTHONFAULTHANDLER="1", XDG_CONFIG_HOME=str(folder / "config"))
    args = [sys.executable, str(DRIVER), str(folder / "segue.db"), str(delay_ms), mode]
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {"run": run, "mode": mode, "status": "hung", "bad": [], "busy": ""}
    bad = [line for line in done.stderr.splitlines() if BAD.search(line)]
    if not (folder / "config" / "segue" / "player.conf").is_file():
        bad.append("the window state was not saved")
    busy = next((line for line in done.stdout.splitlines() if line.startswith("busy")), "")
    return {"run": run, "mode": mode, "status": done.returncode, "bad": bad, "busy": busy}


def quits(library: Path, runs: int) -> list[dict]:
    # every fifth run quits at once, while its rescan has surely not finished (on a fast
    # machine a 0.3 s delay can outlast it); the others at delays spread over 0.3 s
    plan = [
        (run, MODES[run % len(MODES)], 0 if run % 5 == 0 else (run * 53) % 300)
        for run in range(runs)
    ]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(lambda p: quit_once(library, *p), plan))


def check(results: list[dict]) -> None:
    failed = [r for r in results if r["status"] != 0 or r["bad"]]
    assert failed == [], failed
    # the player was busy when it quit: an analysis in most runs, a rescan in some (it is
    # quick; 17 of 50 runs on a loaded 2-core machine)
    scanning = sum("scan=1" in r["busy"] for r in results)
    analysing = sum("analysis=1" in r["busy"] for r in results)
    assert all(r["busy"] for r in results)
    assert scanning >= max(1, len(results) // 5), [r["busy"] for r in results]
    assert analysing >= len(results) // 2, [r["busy"] for r in results]


def test_quitting_a_busy_player_each_way(library):
    check(quits(library, len(MODES)))


@pytest.mark.slow
def test_quitting_a_busy_player_fifty_times(library):
    check(quits(library, int(os.environ.get("SEGUE_QUIT_RUNS", "50"))))
