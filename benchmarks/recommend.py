"""Suggestion latency with a trained model on a 100,000-track library.

    .venv/bin/python benchmarks/recommend.py [--calls 1000]

End to end per call, on one intra-op thread: read the plays logged since the last call
from SQLite, observe them, score the whole library (history features in numpy, session
tower + scorer in onnxruntime, cached item vectors), re-rank to the top 10. p50 and p99
over the calls; target p99 <= 5 ms. Then the same through ``app.suggest.suggestions`` (the
serving cache, as the GUI calls it) on a copy of the store with the model registered: the
first call (cold: builds the state) and per-call p50/p99 with one play ended (every third
one skipped) and the next started between calls (the GUI's track change); ``service_*``
keys. The library, history and model are built once under benchmarks/.cache/. Writes
benchmarks/results/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from player_plugin.app.retrain import run_trainer, trainer_command  # noqa: E402
from player_plugin.app.suggest import CACHE as SERVING  # noqa: E402
from player_plugin.app.suggest import suggestions  # noqa: E402
from player_plugin.recommend.engine import Engine  # noqa: E402
from player_plugin.recommend.model import ModelRecommender  # noqa: E402
from player_plugin.recommend.rerank import Reranker  # noqa: E402
from player_plugin.store import open_db  # noqa: E402
from player_plugin.store.catalogue import (  # noqa: E402
    HistoryTrack,
    insert_history_tracks,
    load_catalogue,
    load_plays,
)
from player_plugin.store.models import activate, add_model  # noqa: E402
from player_plugin.store.plays import end_play, log_play, start_play  # noqa: E402
from player_plugin.store.serving import serving_plays  # noqa: E402

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


def service_figures(db, model: Path, calls: int) -> dict:
    """``app.suggest.suggestions`` on a copy of the store with *model* active: the cold first
    call, one uncached call for reference, then *calls* track changes (end the play in
    progress as completed, start the next; untimed) each followed by a timed call."""
    folder = CACHE / "service"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copy = open_db(folder / "segue.db", migrate=False)
    db.conn.backup(copy.conn)
    copy.close()
    sdb = open_db(folder / "segue.db")
    add_model(
        sdb,
        "bench",
        folder=str(model.resolve()),
        cutoff=None,
        data_size=None,
        metrics={"holdout": {}},  # only an evaluated model can be activated
    )
    activate(sdb, "bench")
    SERVING.clear()
    catalogue = load_catalogue(sdb, audio=False)
    plays = load_plays(sdb, catalogue)
    seen = np.unique([p.item for p in plays])
    rng = np.random.default_rng(2)
    now = plays[-1].started_at + 60_000
    start = time.perf_counter()
    first = suggestions(sdb, 10, now_ms=now)
    cold = time.perf_counter() - start
    assert first.method == "model" and len(first.items) == 10, first
    start = time.perf_counter()
    uncached = suggestions(sdb, 10, now_ms=now, cached=False)
    uncached_s = time.perf_counter() - start
    assert [i.track_id for i in uncached.items] == [i.track_id for i in first.items]
    times, playing = [], None
    for k in range(calls):
        if playing is not None:  # every third track skipped after 20 s, the rest heard
            ms, reason = (20_000, "skipped") if k % 3 == 0 else (200_000, "completed")
            end_play(sdb, playing, ms_played=ms, reason=reason, at_ms=now + ms)
            now += ms + 1_000
        item = int(seen[rng.integers(len(seen))])
        playing = start_play(sdb, int(catalogue.track_ids[item]), at_ms=now)
        start = time.perf_counter()
        found = suggestions(sdb, 10, now_ms=now + 1_000)
        times.append(time.perf_counter() - start)
        assert len(found.items) == 10
    entry = SERVING.entry(sdb)
    check = suggestions(sdb, 10, now_ms=now + 1_000, cached=False)
    assert [i.track_id for i in check.items] == [i.track_id for i in found.items]
    sdb.close()
    shutil.rmtree(folder, ignore_errors=True)
    ms = np.asarray(times) * 1000
    return {
        "service_first_call_s": round(cold, 2),
        "service_uncached_call_s": round(uncached_s, 2),
        "service_calls": calls,
        "service_p50_ms": round(float(np.percentile(ms, 50)), 3),
        "service_p99_ms": round(float(np.percentile(ms, 99)), 3),
        "service_mean_ms": round(float(ms.mean()), 3),
        "service_rebuilds": entry.rebuilds,
        "service_skips_counted_in_place": entry.reclassified,
    }


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
        new = serving_plays(db, catalogue, now_ms=now, after_id=last_id)
        last_id = new.last_id
        for play in new.plays:
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
        **service_figures(db, model, args.calls),
        "load_average": os.getloadavg(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recommend.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
