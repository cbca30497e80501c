"""Suggestions before any model is trained: each baseline through the GUI's path, beside
the baseline alone.

    .venv/bin/python benchmarks/no_model.py [--tracks 100000] [--plays 20000]
        [--calls 60] [--runs 3] [--methods session-knn,markov,most-played,recent,item-knn]

A new listener has no model until the first training: a baseline serves the dock then.
**Ours**: ``app.suggest.suggestions(method=...)`` on a copy of the benchmark store (the
serving cache, the re-ranker, the reasons), one play ended between calls — every third a
skip — and the next started, as the player does. **Peer**: the same baseline, fitted on
the same plays in the same process, observing the same plays, and asked for its top 10
(``scores`` and a partition: no store, no re-ranking, no reasons). Each run times a block of
each in turn; the figures are medians over the runs of each run's p50/p99 (the first call,
which builds the state, is reported apart) and the ratio is ours / the peer's per run.
The library and history are ``benchmarks/recommend.py``'s (built once under
benchmarks/.cache/). Writes benchmarks/results/no_model.json with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from recommend import DEFAULT_PLAYS, DEFAULT_TRACKS, RESULTS, build, folder_for  # noqa: E402

from player_plugin.app.suggest import CACHE as SERVING  # noqa: E402
from player_plugin.app.suggest import suggestions  # noqa: E402
from player_plugin.domain.play import Play  # noqa: E402
from player_plugin.recommend.baselines import make_baseline  # noqa: E402
from player_plugin.store import open_db  # noqa: E402
from player_plugin.store.catalogue import load_catalogue  # noqa: E402
from player_plugin.store.plays import end_play, start_play  # noqa: E402
from player_plugin.store.serving import serving_plays  # noqa: E402

METHODS = "session-knn,markov,most-played,recent,item-knn"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def one_run(src: Path, work: Path, method: str, calls: int, seed: int) -> dict:
    """One block of GUI-path calls and one of peer calls for *method*, on a fresh copy."""
    shutil.copy(src, work)
    SERVING.clear()
    db = open_db(work)
    try:
        catalogue = load_catalogue(db)
        now = int(db.execute("SELECT max(started_at) FROM plays").fetchone()[0]) + 10_000
        peer = make_baseline(method)
        peer.fit(serving_plays(db, catalogue, now_ms=now).plays, catalogue)
        rng = np.random.default_rng(seed)
        seen = [r[0] for r in db.execute("SELECT DISTINCT track_id FROM plays LIMIT 3000")]
        item_of = {int(t): i for i, t in enumerate(catalogue.track_ids.tolist())}
        ours, theirs, playing, track, first = [], [], None, 0, 0.0
        for k in range(calls + 1):
            if playing is not None:
                ms, reason = (20_000, "skipped") if k % 3 == 0 else (200_000, "completed")
                end_play(db, playing, ms_played=ms, reason=reason, at_ms=now + ms)
                heard = "skipped" if reason == "skipped" else "listened"
                peer.observe(Play(item_of[track], now, ms, heard))
                now += ms + 1_000
            track = int(seen[rng.integers(len(seen))])
            playing = start_play(db, track, at_ms=now)
            start = time.perf_counter()
            found = suggestions(db, 10, now_ms=now + 1_000, method=method)
            took = time.perf_counter() - start
            assert len(found.items) == 10 and found.method == method
            if k == 0:
                first = took
            else:
                ours.append(took)
            start = time.perf_counter()
            scores = peer.scores()
            top = np.argpartition(-scores, 10)[:10]
            top[np.argsort(-scores[top])]
            theirs.append(time.perf_counter() - start)
        entry = SERVING.entry(db)
        assert entry is not None
        return {
            "first_s": first,
            "ours": ours,
            "peer": theirs,
            "rebuilds": entry.rebuilds,
            "reclassified": entry.reclassified,
        }
    finally:
        db.close()
        SERVING.clear()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=DEFAULT_TRACKS)
    ap.add_argument("--plays", type=int, default=DEFAULT_PLAYS)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--methods", default=METHODS)
    args = ap.parse_args()
    folder = folder_for(args.tracks, args.plays)
    src = folder / "library.db"
    if not src.exists():
        folder.mkdir(parents=True, exist_ok=True)
        build(src, args.tracks, args.plays)
    work = folder / "no-model.db"
    load_before = os.getloadavg()
    out: dict = {}
    for method in args.methods.split(","):
        runs = [one_run(src, work, method, args.calls, seed) for seed in range(args.runs)]
        p = {
            key: {q: statistics.median(pct(r[key], q) for r in runs) for q in (50, 99)}
            for key in ("ours", "peer")
        }
        ratio = {
            q: statistics.median(pct(r["ours"], q) / pct(r["peer"], q) for r in runs)
            for q in (50, 99)
        }
        out[method] = {
            "ours_p50_ms": round(p["ours"][50], 2),
            "ours_p99_ms": round(p["ours"][99], 2),
            "peer_p50_ms": round(p["peer"][50], 2),
            "peer_p99_ms": round(p["peer"][99], 2),
            "ratio_p50": round(ratio[50], 2),
            "ratio_p99": round(ratio[99], 2),
            "first_call_s": round(statistics.median(r["first_s"] for r in runs), 3),
            "rebuilds": [r["rebuilds"] for r in runs],
            "counted_in_place": [r["reclassified"] for r in runs],
        }
        print(method, json.dumps(out[method]), flush=True)
    work.unlink(missing_ok=True)
    result = {
        "tracks": args.tracks,
        "plays": args.plays,
        "calls": args.calls,
        "runs": args.runs,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "methods": out,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "no_model.json" if args.plays == DEFAULT_PLAYS else f"no_model-{args.plays}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
