"""Suggestion latency with a trained model on a 100,000-track library.

    .venv/bin/python benchmarks/recommend.py [--calls 1000]

End to end per call, on one intra-op thread: read the plays logged since the last call
from SQLite, observe them, score the whole library (history features in numpy, session
tower + scorer in onnxruntime, cached item vectors), re-rank to the top 10. p50 and p99
over the calls; target p99 <= 5 ms. The library, history and model are built once under
benchmarks/.cache/. Writes benchmarks/results/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from player_plugin.recommend.engine import Engine  # noqa: E402
from player_plugin.recommend.model import ModelRecommender  # noqa: E402
from player_plugin.recommend.model_eval import run_trainer, trainer_command  # noqa: E402
from player_plugin.recommend.rerank import Reranker  # noqa: E402
from player_plugin.store import open_db  # noqa: E402
from player_plugin.store.catalogue import (  # noqa: E402
    HistoryTrack,
    insert_history_tracks,
    load_catalogue,
    load_plays,
)
from player_plugin.store.models import plays_since  # noqa: E402
from player_plugin.store.plays import log_play  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache" / "recommend"
RESULTS = ROOT / "benchmarks" / "results"
TRACKS, PER_ARTIST, PLAYS = 100_000, 10, 20_000
T0 = 1_600_000_000_000


def build(db_path: Path) -> None:
    """100k tracks (10k artists, one album each); 20k plays over favourite artists."""
    rng = np.random.default_rng(0)
    db = open_db(db_path)
    insert_history_tracks(
        db,
        (
            HistoryTrack(
                f"/lib/{i:06d}.flac".encode(),
                f"a{i // PER_ARTIST}\x1ft{i}",
                f"Artist {i // PER_ARTIST}",
                f"Track {i}",
                f"Album {i // PER_ARTIST}",
                200_000,
            )
            for i in range(TRACKS)
        ),
    )
    ids = [r[0] for r in db.execute("SELECT id FROM tracks ORDER BY id")]
    favourites = rng.choice(TRACKS // PER_ARTIST, 600, replace=False)
    t, n = T0, 0
    while n < PLAYS:
        artist = int(favourites[min(int(rng.zipf(1.3)) - 1, 599)])
        for k in range(int(rng.integers(0, 5)), PER_ARTIST):
            skipped = rng.random() < 0.15
            ms = 20_000 if skipped else 200_000
            log_play(
                db,
                ids[artist * PER_ARTIST + k],
                started_at=t,
                ms_played=ms,
                reason="skipped" if skipped else "completed",
            )
            t += ms + 1000
            n += 1
        if rng.random() < 0.3:
            t += 3_600_000
    db.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    db_path, model = CACHE / "library.db", CACHE / "model"
    if not db_path.exists():
        build(db_path)
    if not model.exists():
        run_trainer(trainer_command(db_path, model, extra=["--epochs", "2"]))
    db = open_db(db_path)
    catalogue = load_catalogue(db)
    plays = load_plays(db, catalogue)
    last_id = int(db.execute("SELECT max(id) FROM plays").fetchone()[0])
    t0 = time.perf_counter()
    rec = ModelRecommender(Engine(model, threads=1))
    rec.fit(plays, catalogue)
    reranker = Reranker(catalogue).fit(plays)
    fit_seconds = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    track_ids = catalogue.track_ids
    seen = np.unique([p.item for p in plays])
    now = plays[-1].started_at + 60_000
    times = []
    with_cold = []
    for _ in range(args.calls):
        item = int(seen[rng.integers(len(seen))])  # the listener plays something (untimed)
        log_play(db, int(track_ids[item]), started_at=now, ms_played=200_000, reason="completed")
        now += 201_000
        start = time.perf_counter()
        new, last_id = plays_since(db, catalogue, last_id)
        for play in new:
            rec.observe(play)
            reranker.observe(play)
        top = reranker.rerank(rec.scores(), 10)
        times.append(time.perf_counter() - start)
        with_cold.append(len(rec.state.cold_split()[1]))
        assert len(top) == 10
    # leave the cached store as it was
    with db.atomic():
        db.execute("DELETE FROM plays WHERE started_at >= ?", [plays[-1].started_at + 60_000])
    ms = np.asarray(times) * 1000
    result = {
        "benchmark": "recommend",
        "tracks": len(catalogue),
        "history_plays": len(plays),
        "calls": args.calls,
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "target_p99_ms": 5.0,
        "items_without_history": int(np.median(with_cold)),
        "fit_seconds": round(fit_seconds, 2),
        "intra_op_threads": 1,
        "provider": rec.engine.provider,
        "load_average": os.getloadavg(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recommend.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
