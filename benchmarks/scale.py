"""Cost against library size: suggestion latency, the first suggestion and memory at
growing libraries and histories, each beside the peer of benchmarks/recommend.py.

    .venv/bin/python benchmarks/scale.py [--sizes 100000:20000,500000:1000000]
        [--calls 100] [--runs 3] [--starts 1]

Each size is benchmarks/recommend.py run in its own process (its synthetic library and
history, generated once under benchmarks/.cache/, the default size's model serving every
size): engine and GUI p50/p99 and the peer's in the same run, the first suggestion cold
and warm in fresh processes, the resident memory of a warm-started process. The ratios
say how each cost grew against the library (``*_growth`` / ``tracks_growth``: 1 or less
is linear or better). Writes benchmarks/results/scale.json with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

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
    "start_cold_s",
    "start_warm_s",
    "start_warm_cpu_s",
    "start_peer_s",
    "start_process_rss_mb",
    "fit_seconds",
    "serving_state_mb",
)
GROWTH = ("engine_p50_ms", "gui_p50_ms", "start_warm_cpu_s", "start_cold_s", "serving_state_mb")


def sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        tracks, plays = part.split(":")
        out.append((int(tracks), int(plays)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=sizes, default=sizes("100000:20000,500000:1000000"))
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--starts", type=int, default=1)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tracks, plays in args.sizes:
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
