"""Chaos: kill -9 at random points of a scan, a history import, a log-play loop and a
training, at least ten times each. After every kill the database passes
``PRAGMA integrity_check``, no play that was reported logged is missing, an import is all
or nothing, the serving model is a complete one; finishing the work afterwards gives the
counts of a clean run."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audio_fixtures import write_audio
from test_history_import import T0, spotify_file
from test_model_fixtures import fill_store

from player_plugin.recommend.engine import Engine
from player_plugin.store import models as reg
from player_plugin.store import open_db

ROOT = Path(__file__).resolve().parents[1]
KILLS = 10
CLI = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"
TINY = ["--epochs", "2", "--batch", "64", "--negatives", "16", "--dim", "8", "--hidden", "16"]
TINY += ["--feat-hidden", "8", "--threads", "1"]

LOG_LOOP = """
import sys
from player_plugin.store import open_db
from player_plugin.store.plays import log_play
db = open_db(sys.argv[1])
track = int(sys.argv[2])
for n in range(100000):
    play_id = log_play(db, track, started_at=1700000000000 + n * 1000, ms_played=1000)
    print(play_id, flush=True)  # only after its transaction committed
"""

pytestmark = pytest.mark.timeout(600)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _run(cmd: list[str]) -> tuple[float, str]:
    """Run to the end; (seconds, stdout)."""
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode in (0, 1), proc.stderr  # 1: a scan with unreadable files
    return time.monotonic() - started, proc.stdout


def _kill_at(cmd: list[str], delay: float) -> str:
    """Start *cmd*, kill -9 its whole process group after *delay* s; its stdout so far."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(),
        start_new_session=True,
    )  # fmt: skip
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    with contextlib.suppress(ProcessLookupError):  # pool workers left behind
        os.killpg(proc.pid, signal.SIGKILL)
    return out


def _intact(db_path: Path) -> None:
    db = open_db(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def _count(db_path: Path, sql: str) -> int:
    db = open_db(db_path)
    try:
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


def _cli(db_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", CLI, "--db", str(db_path), *args]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("chaos-music")
    for i in range(40):
        tags = {"artist": f"Artist {i % 7}", "title": f"Song {i}", "album": f"Album {i % 5}"}
        write_audio(folder / f"{i // 10}" / f"song{i:02d}", "flac", seconds=0.3, tags=tags)
    return folder


def test_scan_killed_at_random_points(tmp_path, library):
    rng = random.Random(1401)
    clean = tmp_path / "clean.db"
    seconds, _ = _run(_cli(clean, "scan", str(library)))
    expected = _count(clean, "SELECT count(*) FROM tracks")
    chaos = tmp_path / "chaos.db"
    for _ in range(KILLS):
        _kill_at(_cli(chaos, "scan", str(library)), rng.uniform(0.0, seconds))
        _intact(chaos)
    _run(_cli(chaos, "scan", str(library)))
    _intact(chaos)
    assert _count(chaos, "SELECT count(*) FROM tracks") == expected == 40
    assert _count(chaos, "SELECT count(*) FROM tracks WHERE missing = 1") == 0


def test_import_killed_at_random_points(tmp_path):
    rng = random.Random(1402)
    plays = [(T0 + i * 4 * 60_000, 200_000, f"A{i % 50}", f"T{i % 400}", "") for i in range(6000)]
    history = spotify_file(tmp_path / "history.json", plays)
    clean = tmp_path / "clean.db"
    seconds, _ = _run(_cli(clean, "import-history", str(history)))
    expected = _count(clean, "SELECT count(*) FROM plays")
    chaos = tmp_path / "chaos.db"
    for _ in range(KILLS):
        _kill_at(_cli(chaos, "import-history", str(history)), rng.uniform(0.0, seconds))
        _intact(chaos)
        # all or nothing: every recorded import holds its plays, no play without its import
        assert _count(chaos, "SELECT count(*) FROM plays") in (0, expected)
        assert _count(chaos, "SELECT count(*) FROM imports WHERE read IS NULL") == 0
    _run(_cli(chaos, "import-history", str(history)))
    _intact(chaos)
    assert _count(chaos, "SELECT count(*) FROM plays") == expected == 6000


def test_log_play_loop_killed_at_random_points(tmp_path, db_path):
    rng = random.Random(1403)
    db = open_db(db_path)
    track = db.execute(
        "INSERT INTO tracks (path, path_text, title, artist, first_seen, last_scanned) "
        "VALUES (x'2f612e666c6163', '/a.flac', 'T', 'A', 0, 0)"
    ).lastrowid
    db.close()
    logged: list[int] = []
    for _ in range(KILLS):
        out = _kill_at(
            [sys.executable, "-c", LOG_LOOP, str(db_path), str(track)], rng.uniform(0.3, 1.8)
        )
        logged += [int(line) for line in out.split()]  # fmt: skip
        _intact(db_path)
        db = open_db(db_path)
        stored = {r[0] for r in db.execute("SELECT id FROM plays")}
        db.close()
        missing = [play_id for play_id in logged if play_id not in stored]
        assert not missing, f"{len(missing)} logged plays lost"
    assert len(logged) > KILLS


def test_training_killed_at_random_points(tmp_path, db_path):
    rng = random.Random(1404)
    db = open_db(db_path)
    fill_store(db, n_plays=300)
    root = reg.models_root(db)
    db.close()

    def trainer(out: Path) -> list[str]:
        return [sys.executable, "-m", "training", "--db", str(db_path), "--out", str(out), *TINY]

    started = time.monotonic()
    _run(trainer(root / "m00"))
    seconds = time.monotonic() - started
    db = open_db(db_path)
    evaluated = {"holdout": {"model": 0.0}}  # only an evaluated model can serve
    reg.add_model(db, "m00", folder="m00", cutoff=1, data_size=300, metrics=evaluated, created_at=1)
    reg.activate(db, "m00")
    db.close()
    finished = 0
    for n in range(1, KILLS + 1):
        model_id = f"m{n:02d}"
        _kill_at(trainer(root / model_id), rng.uniform(0.0, seconds * 1.1))
        _intact(db_path)
        db = open_db(db_path)
        if (root / model_id).exists():  # it finished: a folder there is always complete
            Engine(root / model_id)
            finished += 1
            reg.add_model(db, model_id, folder=model_id, cutoff=1, data_size=300,
                          metrics=evaluated, created_at=n + 1)  # fmt: skip
            reg.activate(db, model_id)
        serving = reg.active_model(db)
        Engine(reg.model_folder(db, serving))  # the serving model loads: it is complete
        db.close()
    assert finished < KILLS  # most kills landed before the end
