"""Benchmark concurrent writers on one database: nothing lost, nothing doubled, never "locked".

Each round starts from a fresh store holding two earlier imports (one to undo, one whose
plays are deleted by time range), then runs all at once, each in its own process:

- ``segue scan`` of a 60-track library (the tracks the new history's plays are of);
- two ``segue import-history`` of the same 4,000-play file (the second must add nothing);
- ``segue plays delete --from --to`` (the second earlier import's time range);
- ``segue import-history --undo`` (the first earlier import);
- 500 ``segue log-play`` calls from 4 processes (the CLI's own code, in-process, 125 each).

Checked after each round: zero lost plays (every log-play call that said logged is a row),
zero duplicates (the history file's plays are in the store once each), zero failures of
any command (no "locked", no busy give-up), every history play matched to its track (a
scan and an import together leave nothing unmatched), ``PRAGMA integrity_check`` ok.
The reference player is not part of it (it logs through the same ``store.plays`` calls).

Run: ``.venv/bin/python benchmarks/concurrency.py [--rounds 5]``; writes
``benchmarks/results/concurrency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from audio_fixtures import write_audio  # noqa: E402

from player_plugin.store import open_db  # noqa: E402

RESULTS = HERE / "results" / "concurrency.json"
CLI = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"
TRACKS = 60
HISTORY_PLAYS = 4_000
OLD_PLAYS = 1_500
LOG_PLAYS = 500
LOG_PROCESSES = 4

LOG_WORKER = """
import contextlib, io, json, sys
from datetime import UTC, datetime
from player_plugin.cli import main
db, path, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
failures = []
for n in range(first, first + count):
    at = datetime.fromtimestamp(1740787200 + n * 7, UTC)  # distinct: each call is one play
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["--db", db, "log-play", path, "--played-ms", "30000",
                       "--at", at.isoformat()])
    if status != 0:
        failures.append(err.getvalue().strip())
print(json.dumps(failures))
"""


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def spotify_history(path: Path, start_ms: int, n: int) -> Path:
    rows = []
    for i in range(n):
        track = i % TRACKS
        started = start_ms + i * 5 * 60_000
        rows.append(
            {
                "ts": datetime.fromtimestamp((started + 200_000) / 1000, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "ms_played": 200_000,
                "master_metadata_track_name": f"Song {track}",
                "master_metadata_album_artist_name": f"Artist {track % 9}",
                "master_metadata_album_album_name": f"Album {track % 6}",
                "reason_end": "trackdone",
            }
        )
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip


def one_round(work: Path, library: Path, files: dict[str, Path]) -> dict:
    db_path = work / "segue.db"
    db = open_db(db_path)
    db.close()
    undo_file = str(files["undo"])
    seed = subprocess.run(
        [sys.executable, "-c", CLI, "--db", str(db_path), "--json", "import-history", undo_file],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
    )  # fmt: skip
    undo_id = json.loads(seed.stdout)["import_id"]
    subprocess.run(
        [sys.executable, "-c", CLI, "--db", str(db_path), "import-history", str(files["delete"])],
        capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
    )  # fmt: skip
    # log-play needs its track in the library: one file scanned first
    first = sorted(library.rglob("*.flac"))[0]
    subprocess.run(
        [sys.executable, "-c", CLI, "--db", str(db_path), "scan", str(first)],
        capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
    )  # fmt: skip
    cli = [CLI, "--db", str(db_path)]
    started = time.monotonic()
    procs = {
        "scan": _start([*cli, "scan", str(library)]),
        "import 1": _start([*cli, "--json", "import-history", str(files["history"])]),
        "import 2": _start([*cli, "--json", "import-history", str(files["history"])]),
        "delete": _start(
            [
                *cli,
                "plays",
                "delete",
                "--from",
                "2021-01-01T00:00:00Z",
                "--to",
                "2022-01-01T00:00:00Z",
            ]
        ),
        "undo": _start([*cli, "import-history", "--undo", str(undo_id)]),
    }
    per = LOG_PLAYS // LOG_PROCESSES
    for k in range(LOG_PROCESSES):
        procs[f"log-play {k}"] = _start(
            [LOG_WORKER, str(db_path), str(first), str(k * per), str(per)]
        )
    failures: list[str] = []
    outputs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        outputs[name] = out
        if proc.returncode != 0:
            failures.append(f"{name}: status {proc.returncode}: {err.strip()[-300:]}")
        if name.startswith("log-play"):
            failures += json.loads(out or "[]")
    seconds = time.monotonic() - started
    db = open_db(db_path)
    logged = db.execute(
        "SELECT count(*), count(DISTINCT started_at) FROM plays WHERE source = 'user'"
    ).fetchone()
    history = _ms("2023-01-01T00:00:00"), _ms("2024-12-31T00:00:00")
    imported = db.execute(
        "SELECT count(*), count(DISTINCT started_at), sum(track_id IS NULL) FROM plays "
        "WHERE started_at BETWEEN ? AND ?",
        history,
    ).fetchone()
    added = sorted(json.loads(outputs[n])["added"] for n in ("import 1", "import 2") if outputs[n])
    result = {
        "seconds": round(seconds, 2),
        "log_play_calls": LOG_PLAYS,
        "lost_plays": LOG_PLAYS - logged[1],
        "duplicate_log_plays": logged[0] - logged[1],
        "history_plays": HISTORY_PLAYS,
        "history_stored": imported[0],
        "duplicates": imported[0] - imported[1] + max(0, imported[0] - HISTORY_PLAYS),
        "missing_history_plays": max(0, HISTORY_PLAYS - imported[1]),
        "import_added": added,
        "unmatched_history_plays": imported[2] or 0,
        "undone_left": db.execute(
            "SELECT count(*) FROM plays WHERE import_id = ?", [undo_id]
        ).fetchone()[0],
        "deleted_left": db.execute(
            "SELECT count(*) FROM plays WHERE started_at BETWEEN ? AND ?",
            [_ms("2021-01-01T00:00:00"), _ms("2021-12-31T23:59:59")],
        ).fetchone()[0],
        "tracks": db.execute("SELECT count(*) FROM tracks").fetchone()[0],
        "failures": failures,
        "locked_failures": sum("locked" in f or "busy" in f for f in failures),
        "integrity": db.execute("PRAGMA integrity_check").fetchone()[0],
    }
    db.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="segue-concurrency-") as tmp:
        base = Path(tmp)
        library = base / "music"
        for i in range(TRACKS):
            tags = {"artist": f"Artist {i % 9}", "title": f"Song {i}", "album": f"Album {i % 6}"}
            write_audio(library / f"{i % 6}" / f"song{i:02d}", "flac", seconds=0.5, tags=tags)
        history = _ms("2023-01-01T00:00:00")
        files = {
            "history": spotify_history(base / "history.json", history, HISTORY_PLAYS),
            "undo": spotify_history(base / "old.json", _ms("2022-01-01T00:00:00"), OLD_PLAYS),
            "delete": spotify_history(base / "older.json", _ms("2021-01-01T00:00:00"), OLD_PLAYS),
        }
        for n in range(args.rounds):
            work = base / f"round{n}"
            work.mkdir()
            result = one_round(work, library, files)
            rounds.append(result)
            print(json.dumps({"round": n + 1, **result}), flush=True)
    summary = {
        "rounds": len(rounds),
        "lost_plays": sum(r["lost_plays"] for r in rounds),
        "duplicates": sum(r["duplicates"] + r["duplicate_log_plays"] for r in rounds),
        "locked_failures": sum(r["locked_failures"] for r in rounds),
        "failures": sum(len(r["failures"]) for r in rounds),
        "unmatched_history_plays": sum(r["unmatched_history_plays"] for r in rounds),
        "undone_or_deleted_left": sum(r["undone_left"] + r["deleted_left"] for r in rounds),
        "integrity_ok": all(r["integrity"] == "ok" for r in rounds),
        "seconds_per_round": round(sum(r["seconds"] for r in rounds) / max(1, len(rounds)), 2),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "summary": summary,
                "rounds": rounds,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            indent=1,
        )
        + "\n"
    )
    print(json.dumps(summary))
    ok = (
        summary["lost_plays"] == summary["duplicates"] == summary["failures"] == 0
        and summary["unmatched_history_plays"] == 0
        and summary["undone_or_deleted_left"] == 0
        and summary["integrity_ok"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
