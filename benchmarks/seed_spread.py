"""How much the model's quality depends on the training seed (issue 16, item 4), on the
validation split (inside the first 80% of plays: the split for tuning).

    .venv/bin/python benchmarks/seed_spread.py HISTORY [--seeds 42,43,44,45,46] [-- FLAGS...]

Trains the model once per seed with the trainer's hidden settings in FLAGS (e.g.
``-- --lr 0.0015`` or ``-- --members 2``), scores every listened validation target as
``segue evaluate --validation`` does (the model alone, raw ranking) and prints NDCG@10 per
seed, the mean, the spread (max − min) and the standard deviation, on all plays and on
first plays. Each run is added to ``benchmarks/results/seed_spread.json`` under its history
and flags (seeds already there are kept: more seeds give a steadier estimate of the spread).
The history's store is built once under ``benchmarks/.cache/``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from evaluate import DATA, DATASETS  # noqa: E402

from player_plugin.app.evaluate import build_store, read_listeners  # noqa: E402
from player_plugin.app.retrain import fit_model  # noqa: E402
from player_plugin.domain.catalogue import Catalogue  # noqa: E402
from player_plugin.domain.play import Play  # noqa: E402
from player_plugin.recommend.evaluate import run_protocol, split_index  # noqa: E402
from player_plugin.store.catalogue import load_catalogue, load_plays  # noqa: E402
from player_plugin.store.db import open_db  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results" / "seed_spread.json"


def store(name: str) -> Path:
    """The history's evaluation store (every play, one listener), built once."""
    path = CACHE / f"seed_spread_{name}.db"
    if not path.exists():
        fmt, files = DATASETS[name]
        (plays,) = read_listeners(files(), fmt).listeners.values()
        CACHE.mkdir(parents=True, exist_ok=True)
        build_store(path, plays, fmt=fmt, files=files()).close()
    return path


def validation_split(db: Path) -> tuple[Catalogue, list[Play]]:
    """The store's catalogue and its first 80% of plays (the validation split is inside)."""
    conn = open_db(db)
    try:
        catalogue = load_catalogue(conn, audio=False)
        plays = load_plays(conn, catalogue)
    finally:
        conn.close()
    return catalogue, plays[: split_index(plays)]


def one_seed(
    db: Path, catalogue: Catalogue, plays: list[Play], seed: int, flags: list[str]
) -> dict:
    """NDCG@10 of the model trained with *seed* on the validation split's targets."""
    split = split_index(plays)
    started = time.perf_counter()
    model = fit_model(db, plays[split].started_at, extra=[*flags, "--seed", str(seed)])
    trained = time.perf_counter() - started
    model.fit(plays[:split], catalogue)
    logs = run_protocol(plays, catalogue, split, {"model": model}, fitted=["model"])
    ndcg = np.asarray(logs.methods["model"].values["ndcg@10"])
    new = np.asarray(logs.new, dtype=bool)
    return {
        "all": round(float(ndcg.mean()), 5),
        "new": round(float(ndcg[new].mean()), 5),
        "targets": len(ndcg),
        "new_targets": int(new.sum()),
        "train_seconds": round(trained, 1),
    }


def spread(values: list[float]) -> dict:
    return {
        "mean": round(statistics.fmean(values), 5),
        "spread": round(max(values) - min(values), 5),
        "sd": round(statistics.stdev(values), 5) if len(values) > 1 else None,
    }


def main() -> int:
    argv = sys.argv[1:]
    flags = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("history", choices=list(DATASETS))
    parser.add_argument("--seeds", default="42,43,44,45,46")
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if not DATA.is_dir():
        print(f"no data at {DATA}; nothing to do")
        return 0
    db = store(args.history)
    catalogue, plays = validation_split(db)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    key = " ".join([args.history, *flags])
    entry = results.setdefault(key, {"history": args.history, "flags": flags, "seeds": {}})
    for seed in (int(s) for s in args.seeds.split(",")):
        entry["seeds"][str(seed)] = figures = one_seed(db, catalogue, plays, seed, flags)
        print(f"{key}: seed {seed}: all {figures['all']:.4f}, new {figures['new']:.4f}")
    runs = list(entry["seeds"].values())
    entry["all"] = spread([r["all"] for r in runs])
    entry["new"] = spread([r["new"] for r in runs])
    entry["load_average"] = os.getloadavg()
    print(f"{key}: {len(runs)} seeds, all plays {entry['all']}, first plays {entry['new']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
