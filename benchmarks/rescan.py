"""A no-change rescan of a 100,000-file library beside its simpler peer: ``os.walk`` and one
``os.stat`` per file (what any rescan must at least do), whole processes, alternately.

The files are tiny (a rescan reads no file's contents: it compares size and mtime with the
store), created once under ``benchmarks/.cache/rescan-N/``; the database is filled with
one row per file through the scanner's own ``track_row`` and ``upsert_tracks``, so the
rescan finds every file unchanged. Medians of wall seconds, the ratio and the load average
go to ``benchmarks/results/rescan.json``. Target: <= 3 s for 100,000 files.
Run: ``.venv/bin/python benchmarks/rescan.py [--files 100000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from player_plugin.library import walk
from player_plugin.library.scanner import scan, track_row
from player_plugin.library.tags import TrackTags
from player_plugin.store import open_db
from player_plugin.store import tracks as store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "rescan.json"
TARGET_SECONDS = 3.0

PEER = r"""
import os, sys
count = 0
for folder, _, names in os.walk(sys.argv[1]):
    for name in names:
        os.stat(os.path.join(folder, name))
        count += 1
print(count)
"""


def build_files(count: int) -> Path:
    library = HERE / ".cache" / f"rescan-{count}"
    marker = library / ".complete"
    if marker.exists():
        return library
    for i in range(count):
        folder = library / f"Artist {i // 1000:03d}" / f"Album {i // 10:05d}"
        if i % 10 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i % 10:02d} Song {i}.mp3").write_bytes(i.to_bytes(4, "little"))
    marker.touch()
    return library


def fill_db(db_path: Path, library: Path) -> int:
    db = open_db(db_path)
    rows = []
    for found in walk.Walk([os.fsencode(library)]).files():
        tags = TrackTags(format="mp3", codec="mp3", title=os.fsdecode(found.path)[-20:])
        tags.duration_ms = 180_000
        rows.append(track_row(found, tags, 0))
    with db.atomic():
        store.upsert_tracks(db, rows)
    db.close()
    return len(rows)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return time.perf_counter() - started, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    library = build_files(args.files)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    segue = [sys.executable, str(Path(sys.executable).parent / "segue")]
    runs: dict[str, list[float]] = {"os.walk + stat": [], "segue scan": [], "scan()": []}
    cpu: dict[str, list[float]] = {name: [] for name in runs}  # on a busy machine, the
    # CPU seconds are the steadier figure (wall time waits for a core)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "rescan.db"
        assert fill_db(db_path, library) == args.files
        for i in range(args.rounds + 1):  # round 0 warms the caches, not counted
            before = children_cpu()
            wall, out = timed([sys.executable, "-c", PEER, str(library)], env)
            assert int(out) == args.files + 1  # the marker file
            if i:
                runs["os.walk + stat"].append(wall)
                cpu["os.walk + stat"].append(children_cpu() - before)
            before = children_cpu()
            wall, out = timed([*segue, "--db", str(db_path), "scan", str(library), "--json"], env)
            assert json.loads(out)["unchanged"] == args.files, out
            if i:
                runs["segue scan"].append(wall)
                cpu["segue scan"].append(children_cpu() - before)
            db = open_db(db_path)
            started, started_cpu = time.perf_counter(), time.process_time()
            summary = scan(db, [library])
            if i:
                runs["scan()"].append(time.perf_counter() - started)
                cpu["scan()"].append(time.process_time() - started_cpu)
            db.close()
            assert summary.unchanged == args.files and summary.added == 0, summary
    medians = {name: round(statistics.median(v), 3) for name, v in runs.items()}
    results = {
        "benchmark": "rescan",
        "files": args.files,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "median_seconds": medians,
        "median_cpu_seconds": {name: round(statistics.median(v), 3) for name, v in cpu.items()},
        "runs_seconds": {name: [round(x, 3) for x in v] for name, v in runs.items()},
        "ratio_segue_scan_to_peer": round(medians["segue scan"] / medians["os.walk + stat"], 2),
        "note": "segue scan and the peer are whole processes (start-up included); scan() is "
        "the in-process call with an open database",
        "target_seconds": TARGET_SECONDS,
        "met": medians["segue scan"] <= TARGET_SECONDS,
    }
    for name, median in medians.items():
        cpu_median = results["median_cpu_seconds"][name]
        print(f"{name:15s} median {median:.2f} s (cpu {cpu_median:.2f} s)  {runs[name]}")
    print(f"ratio {results['ratio_segue_scan_to_peer']}x; load {load_before} -> {os.getloadavg()}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
