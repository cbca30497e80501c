"""The guarded promotion also measures the dial on the held-out plays (for the report)."""

from __future__ import annotations

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend.baselines import make_baseline
from player_plugin.recommend.metrics import ndcg
from player_plugin.recommend.model_eval import compare_on_holdout
from player_plugin.recommend.rerank import Reranker, RerankSettings

T0 = 1_700_000_000_000


def catalogue(n: int = 120) -> Catalogue:
    artist = (np.arange(n) // 6 + 1).astype(np.int32)
    return Catalogue(
        track_ids=np.arange(n, dtype=np.int64) + 1,
        titles=[f"T{i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"A{a}" for a in range(1, n // 6 + 2)],
        album=artist.copy(),
        album_names=[""] + [f"L{a}" for a in range(1, n // 6 + 2)],
    )


def test_the_holdout_carries_the_dial_curve():
    cat = catalogue()
    rng = np.random.default_rng(3)
    # albums in order, mostly the first 60 tracks, now and then a new one
    plays, k = [], 0
    for _ in range(110):
        album = int(rng.integers(0, 10)) if rng.random() < 0.85 else int(rng.integers(10, 20))
        for track in range(6):
            plays.append(Play(album * 6 + track, T0 + k * 240_000))
            k += 1
    start = 560
    result = compare_on_holdout(make_baseline("markov"), None, plays, cat, start)
    curve = result["dial"]
    assert [p["dial"] for p in curve] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve[0]["new_share"] == 0.0 <= curve[2]["new_share"] < curve[-1]["new_share"]
    shares = [p["new_share"] for p in curve]
    assert shares == sorted(shares)
    # the middle is exactly what the player's default re-ranking would have scored
    rec, rr = make_baseline("markov"), Reranker(cat, RerankSettings()).fit(plays[:start])
    rec.fit(plays[:start], cat)
    middle = []
    for play in plays[start:]:
        ranked = rr.rerank(rec.scores(), 10)
        middle.append(ndcg(ranked.index(play.item) + 1 if play.item in ranked else 11))
        rec.observe(play)
        rr.observe(play)
    assert curve[2]["ndcg@10"] == round(float(np.mean(middle)), 6)
