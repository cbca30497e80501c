"""`segue train` beside another revision's, alternated: is a retrain faster, and does it
decide the same?

    .venv/bin/python benchmarks/retrain_ab.py REV [DB] [--rounds 3] [--first]

A retrain is the training and then the comparison on the newest plays with the active
model and the baselines (what the promotion decides on). DB (default: the 42.7k-play
Last.fm store benchmarks/train.py builds) is copied once and a first `segue train` of this
checkout gives it an active model (unless ``--first``: then each run is a first training,
with nothing active); each run then retrains a fresh copy of that, from a temporary git
worktree of REV and from this checkout in turn, ROUNDS times each (the machine is shared:
side by side in one run). Per run: the whole command's wall seconds and its decision line
(the same figures give the same line). Reported: the medians, the median of the per-pair
ratios (this / REV), whether every run printed the same decision, and the load average.
Writes benchmarks/results/retrain_ab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train import RESULTS, store  # noqa: E402
from worktree import commit_of, worktree  # noqa: E402

CLI = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"


def segue_train(tree: Path, folder: Path) -> tuple[float, str]:
    """`segue train` from *tree* on the store in *folder*: (seconds, its last line)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI, "--db", str(folder / "segue.db"), "train"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{tree}: segue train failed: {(done.stdout + done.stderr)[-300:]}")
    line = done.stdout.strip().splitlines()[-1]
    return round(seconds, 2), line.split(": ", 1)[-1]  # (the model id before it differs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the revision to compare with (a commit, a tag, a branch)")
    parser.add_argument("db", nargs="?", type=Path, help="a Segue database (default: Last.fm)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first", action="store_true", help="no active model: first trainings")
    args = parser.parse_args()
    rev = commit_of(args.rev)
    if rev is None:
        print(f"{args.rev}: not a revision of this repository", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="segue-retrain-ab-"))
    runs: dict[str, list[dict]] = {"theirs": [], "ours": []}
    try:
        base = work / "base"
        base.mkdir()
        shutil.copy(args.db or store(), base / "segue.db")
        if not args.first:
            print("the active model:", segue_train(ROOT, base)[1], flush=True)
        load_before = os.getloadavg()
        with worktree(rev, work / "tree") as other:
            for round_no in range(1, args.rounds + 1):
                for side, tree in (("theirs", other), ("ours", ROOT)):
                    run = work / "run"
                    shutil.rmtree(run, ignore_errors=True)
                    shutil.copytree(base, run)
                    seconds, decision = segue_train(tree, run)
                    runs[side].append({"seconds": seconds, "decision": decision})
                    print(f"round {round_no}: {side:6s} {seconds:6.2f} s  {decision}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(side: str) -> float:
        return round(statistics.median(r["seconds"] for r in runs[side]), 2)

    ratios = [
        o["seconds"] / t["seconds"] for o, t in zip(runs["ours"], runs["theirs"], strict=True)
    ]
    decisions = {r["decision"] for found in runs.values() for r in found}
    result = {
        "benchmark": "retrain_ab",
        "db": str(args.db) if args.db else "lastfm-2007-2019 (all plays)",
        "active_model": not args.first,
        "theirs": rev,
        "rounds": args.rounds,
        "seconds": {side: [r["seconds"] for r in found] for side, found in runs.items()},
        "seconds_median": {"theirs": median("theirs"), "ours": median("ours")},
        "ratio_median": round(statistics.median(ratios), 3),
        "same_decision": len(decisions) == 1,
        "decision": sorted(decisions),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "retrain_ab.json" if not args.first else "retrain_ab_first.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
