"""Suggestions while a library is analysed: the refresh after an analysis batch, beside a
full build.

    .venv/bin/python benchmarks/analysis_refresh.py [--batches 8] [--batch 50]

After the import wizard's scan, the audio of every new track is analysed in the background
(minutes to hours) while the listener plays music; each track change asks for suggestions,
and each time the library has changed (the analysed tracks' audio). **Ours**:
``app.suggest.suggestions`` as the dock calls it, right after each batch of *--batch*
analysis results is written, with the model serving (``benchmarks/recommend.py``'s library
of 100,000 tracks, 20,000 plays and model). **Peer**: the same call uncached
(``cached=False``: reading every track and replaying every play, what the cached path did
on every catalogue change before stop 28), in the same process after each of ours. The
lists are compared call by call. Medians over the batches; the load average before and
after. Writes benchmarks/results/analysis_refresh.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from recommend import (  # noqa: E402  # noqa: E402
    DEFAULT_PLAYS,
    DEFAULT_TRACKS,
    RESULTS,
    build,
    folder_for,
    service_copy,
    trained_with_defaults,
)

from player_plugin.app import warm  # noqa: E402
from player_plugin.app.suggest import CACHE, suggestions  # noqa: E402
from player_plugin.store import open_db  # noqa: E402
from player_plugin.store.catalogue import load_catalogue, load_plays  # noqa: E402
from player_plugin.store.features import VECTOR_SIZE, AnalysisResult, save_results  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()
    folder = folder_for(DEFAULT_TRACKS, DEFAULT_PLAYS)
    if not (folder / "library.db").exists():
        folder.mkdir(parents=True, exist_ok=True)
        build(folder / "library.db", DEFAULT_TRACKS, DEFAULT_PLAYS)
    if not trained_with_defaults(folder / "model"):
        print("run benchmarks/recommend.py first (it trains the model this one serves)")
        return 2
    load_before = os.getloadavg()
    db = open_db(folder / "library.db")
    catalogue = load_catalogue(db)
    plays = load_plays(db, catalogue)
    sdb = service_copy(db, folder / "model", folder / "analysis")
    db.close()
    CACHE.clear()
    now = plays[-1].started_at + 60_000
    suggestions(sdb, 10, now_ms=now)
    warm.wait_saved()
    ids, rng = catalogue.track_ids.tolist(), np.random.default_rng(0)
    ours, peer, same = [], [], 0
    for k in range(args.batches):
        batch = ids[k * args.batch : (k + 1) * args.batch]
        save_results(
            sdb,
            [
                AnalysisResult(t, 1, 1, {}, rng.normal(size=VECTOR_SIZE).astype("<f4").tobytes())
                for t in batch
            ],
        )
        start = time.perf_counter()
        found = suggestions(sdb, 10, now_ms=now)
        ours.append(time.perf_counter() - start)
        warm.wait_saved()
        start = time.perf_counter()
        fresh = suggestions(sdb, 10, now_ms=now, cached=False)
        peer.append(time.perf_counter() - start)
        same += [(s.track_id, s.reason) for s in found.items] == [
            (s.track_id, s.reason) for s in fresh.items
        ]
    entry = CACHE.entry(sdb)
    assert entry is not None
    result = {
        "tracks": DEFAULT_TRACKS,
        "plays": DEFAULT_PLAYS,
        "batches": args.batches,
        "batch": args.batch,
        "ours_median_s": round(statistics.median(ours), 3),
        "peer_median_s": round(statistics.median(peer), 3),
        "ratio": round(statistics.median(o / p for o, p in zip(ours, peer, strict=True)), 3),
        "ours_s": [round(x, 3) for x in ours],
        "peer_s": [round(x, 3) for x in peer],
        "same_lists": f"{same} of {args.batches}",
        "rebuilds": entry.rebuilds,
        "analyses_taken_in_place": entry.new_audio,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    sdb.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analysis_refresh.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
