"""Training beside another revision's trainer, alternated: is a change faster, and does it
leave the model as it was?

    .venv/bin/python benchmarks/train_ab.py REV [--rounds 5]

`python -m training` on the 42.7k-play Last.fm history (the store benchmarks/train.py
builds), from a temporary git worktree of REV and from this checkout in turn, ROUNDS times
each (the machine is shared: side by side in one run, never two absolute times). Per run:
the whole process's wall and CPU seconds (its example-building child included) and the
model files' sha256. Reported: the medians, the median of the per-pair ratios (this / REV),
how many runs of each were under the 20 s goal, whether every run of one side wrote the
same bytes and whether both sides did, and the load average. Writes
benchmarks/results/train_ab.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train import DATA, RESULTS, TARGET_SECONDS, store  # noqa: E402
from worktree import commit_of, worktree  # noqa: E402

MODEL_FILES = ("item_tower.onnx", "scorer.onnx")


def run_trainer(tree: Path, db: Path) -> dict:
    """One `python -m training` from *tree* (its own packages first on the path)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        env = dict(os.environ, PYTHONPATH=str(tree))
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "training", "--db", str(db), "--out", str(out)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{tree}: the trainer failed: {done.stdout[-300:]}")
        digest = hashlib.sha256()
        for name in MODEL_FILES:
            digest.update((out / name).read_bytes())
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "model": digest.hexdigest()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the revision to compare with (a commit, a tag, a branch)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"{DATA} is not available", file=sys.stderr)
        return 1
    rev = commit_of(args.rev)
    if rev is None:
        print(f"{args.rev}: not a revision of this repository", file=sys.stderr)
        return 2
    db = store()
    work = Path(tempfile.mkdtemp(prefix="segue-train-ab-"))
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"theirs": [], "ours": []}
    try:
        with worktree(rev, work / "tree") as other:
            for round_no in range(1, args.rounds + 1):
                for side, tree in (("theirs", other), ("ours", ROOT)):
                    got = run_trainer(tree, db)
                    runs[side].append(got)
                    print(f"round {round_no}: {side:6s} {got['seconds']:6.2f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[side]), 2)

    ratios = [
        o["seconds"] / t["seconds"] for o, t in zip(runs["ours"], runs["theirs"], strict=True)
    ]
    models = {side: {r["model"] for r in found} for side, found in runs.items()}
    result = {
        "benchmark": "train_ab",
        "history": "lastfm-2007-2019 (all plays)",
        "theirs": rev,
        "rounds": args.rounds,
        "seconds_median": {
            "theirs": median("theirs", "seconds"),
            "ours": median("ours", "seconds"),
        },
        "cpu_seconds_median": {
            "theirs": median("theirs", "cpu_seconds"),
            "ours": median("ours", "cpu_seconds"),
        },
        "ratio_median": round(statistics.median(ratios), 3),
        "under_goal": {
            side: sum(r["seconds"] < TARGET_SECONDS for r in found) for side, found in runs.items()
        },
        "goal_seconds": TARGET_SECONDS,
        "same_model_each_side": all(len(m) == 1 for m in models.values()),
        "same_model_both_sides": models["theirs"] == models["ours"] and len(models["ours"]) == 1,
        "runs": runs,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train_ab.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
