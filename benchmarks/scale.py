"""Cost against library size: suggestion latency, the first suggestion and memory at
growing libraries and histories, each beside the peer of benchmarks/recommend.py.

    .venv/bin/python benchmarks/scale.py
        [--sizes 125000:1000000,250000:1000000,500000:1000000,1000000:1000000]
        [--calls 100] [--runs 3] [--starts 1] [--cache /tmp/segue-scale]

Each size is benchmarks/recommend.py run in its own process (its synthetic library and
history, bulk-built in one transaction the first time, the default size's model serving
every size): engine and GUI p50/p99 and the peer's in the same run, the first suggestion
cold and warm in fresh processes, the resident memory of a warm-started process. The
generated databases (hundreds of MB at a million tracks) are kept under ``--cache``
(linked from benchmarks/.cache/), so a rerun reuses them.

How each cost grows with the library: ``*_growth`` is the cost over the first size's
against ``tracks_growth`` (1 or less per unit of tracks growth is linear or better);
``per_doubling`` holds each cost's ratio from one size to the next (the sizes double: 2
or less is linear or better) and ``exponent`` the slope of log(cost) on log(tracks)
fitted over all sizes (1 is linear). Writes benchmarks/results/scale.json with the load
average.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
KEYS = (
    "tracks",
    "history_plays",
    "engine_p50_ms",
    "engine_p99_ms",
    "gui_p50_ms",
    "gui_p99_ms",
    "peer_p50_ms",
    "peer_p99_ms",
    "engine_over_peer_p99",
    "gui_over_peer_p99",
    "items_without_history",
    "start_cold_s",
    "start_cold_cpu_s",
    "start_warm_s",
    "start_warm_cpu_s",
    "start_peer_s",
    "start_process_rss_mb",
    "fit_seconds",
    "serving_state_mb",
)
GROWTH = (
    "engine_p50_ms",
    "engine_p99_ms",
    "gui_p50_ms",
    "peer_p50_ms",
    "start_warm_s",
    "start_warm_cpu_s",
    "start_cold_s",
    "start_process_rss_mb",
    "fit_seconds",
    "serving_state_mb",
)
SIZES = "125000:1000000,250000:1000000,500000:1000000,1000000:1000000"


def sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        tracks, plays = part.split(":")
        out.append((int(tracks), int(plays)))
    return out


def link_cache(cache: Path, tracks: int, plays: int) -> None:
    """Keep benchmarks/recommend.py's folder for this size (and the default's, with the
    model) under *cache*: link benchmarks/.cache/<name> there unless it is a folder."""
    for name in ("recommend", f"recommend-{tracks}-{plays}"):
        here = ROOT / "benchmarks" / ".cache" / name
        if here.is_dir() and not here.is_symlink():
            continue
        (cache / name).mkdir(parents=True, exist_ok=True)
        here.parent.mkdir(parents=True, exist_ok=True)
        if here.is_symlink():
            here.unlink()
        here.symlink_to(cache / name, target_is_directory=True)


def growth(rows: list[dict]) -> dict:
    """Per cost: its ratio from each size to the next and the log-log slope on tracks."""
    tracks = np.log([row["tracks"] for row in rows])
    out: dict[str, dict] = {}
    for key in GROWTH:
        values = [row.get(key) for row in rows]
        if len(rows) < 2 or not all(values):
            continue
        steps = [round(b / a, 2) for a, b in itertools.pairwise(values)]
        slope = float(np.polyfit(tracks, np.log(values), 1)[0])
        out[key] = {"per_step": steps, "exponent": round(slope, 2)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=sizes, default=sizes(SIZES))
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--starts", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "segue-scale")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tracks, plays in args.sizes:
            link_cache(args.cache, tracks, plays)
            out = Path(tmp) / f"{tracks}-{plays}.json"
            command = [
                sys.executable,
                str(ROOT / "benchmarks" / "recommend.py"),
                *("--tracks", str(tracks), "--plays", str(plays)),
                *("--calls", str(args.calls), "--runs", str(args.runs)),
                *("--starts", str(args.starts), "--results", str(out)),
            ]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            found = json.loads(out.read_text())
            rows.append({key: found.get(key) for key in KEYS})
            rows[-1]["load_average"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows:
        row["tracks_growth"] = round(row["tracks"] / base["tracks"], 2)
        row["plays_growth"] = round(row["history_plays"] / base["history_plays"], 2)
        for key in GROWTH:
            if row.get(key) and base.get(key):
                row[key.rsplit("_", 1)[0] + "_growth"] = round(row[key] / base[key], 2)
    result = {
        "benchmark": "scale",
        "runs": args.runs,
        "calls_per_run": args.calls,
        "starts": args.starts,
        "sizes": rows,
        "growth": growth(rows),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
