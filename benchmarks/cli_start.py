"""`segue --help` start-up time beside a bare ``python -c pass`` (the peer), whole processes;
also `segue settings`, a light command that opens the store (its database made by the first run).

Both run with the same interpreter, alternately, several rounds; the medians, their ratio
and the load average go to ``benchmarks/results/cli_start.json``. The target is 100 ms for
`segue --help`; on a loaded machine the ratio is the figure to trust.
Run: ``.venv/bin/python benchmarks/cli_start.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "cli_start.json"
TARGET_MS = 100.0

SEGUE = [sys.executable, "-c", "import sys; from player_plugin.cli import main; sys.exit(main())"]


def commands(db: Path) -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "segue --help": [*SEGUE, "--help"],
        "segue --version": [*SEGUE, "--version"],
        "segue settings": [*SEGUE, "--db", str(db), "settings"],
    }


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, not an install's
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="segue-cli-start-") as tmp:
        cmds = commands(Path(tmp) / "segue.db")
        for argv in cmds.values():
            timed(argv, env)  # warm the page cache and the .pyc files; makes the database
        runs: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.rounds):
            for name, argv in cmds.items():
                runs[name].append(timed(argv, env))
    medians = {name: statistics.median(values) * 1000 for name, values in runs.items()}
    peer = medians["python -c pass"]
    results = {
        "benchmark": "cli_start",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "median_ms": {name: round(ms, 1) for name, ms in medians.items()},
        "min_ms": {name: round(min(v) * 1000, 1) for name, v in runs.items()},
        "ratio_to_python": {name: round(ms / peer, 2) for name, ms in medians.items()},
        "segue_help_over_python_ms": round(medians["segue --help"] - peer, 1),
        "target_ms": TARGET_MS,
        "met": medians["segue --help"] <= TARGET_MS,
    }
    for name, ms in medians.items():
        print(f"{name:16s} median {ms:6.1f} ms  ({ms / peer:.2f}x python -c pass)")
    print(f"load average {results['load_average_before']} -> {results['load_average_after']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
