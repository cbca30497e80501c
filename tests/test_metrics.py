"""Metric functions against hand-computed values: ties, NaN, bootstrap and paired comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from player_plugin.recommend.metrics import (
    ListenerLog,
    MethodLog,
    artist_diversity,
    hit,
    interval,
    ndcg,
    rank_of,
    reciprocal_rank,
    repeat_rate,
    summarise,
    top_items,
)


def test_rank_counts_ties_against_the_method():
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1], dtype=np.float32)
    assert rank_of(scores, 1) == 1
    # Items 0, 2 and 3 tie: each has two others at least as high, plus item 1.
    assert rank_of(scores, 0) == 4
    assert rank_of(scores, 3) == 4
    assert rank_of(scores, 4) == 5


def test_all_equal_scores_gain_nothing():
    assert rank_of(np.zeros(100, dtype=np.float32), 37) == 100


def test_nan_never_ranks_first():
    scores = np.array([np.nan, 0.2, 0.1], dtype=np.float32)
    assert rank_of(scores, 0) == 3  # NaN is the lowest possible score
    assert rank_of(scores, 1) == 1
    assert rank_of(scores, 2) == 2
    assert top_items(scores, 3).tolist() == [1, 2, 0]
    assert rank_of(np.array([np.nan, np.nan]), 1) == 2


def test_minus_infinity_target_is_last():
    scores = np.array([-np.inf, 0.0, -np.inf])
    assert rank_of(scores, 0) == 3


def test_top_items_orders_best_first_ties_by_index():
    scores = np.array([0.1, 0.7, 0.7, 0.3])
    assert top_items(scores, 3).tolist() == [1, 2, 3]
    assert top_items(scores, 10).tolist() == [1, 2, 3, 0]


def test_hand_computed_ranking_metrics():
    assert hit(1, 1) == 1.0 and hit(2, 1) == 0.0
    assert hit(10, 10) == 1.0 and hit(11, 10) == 0.0
    assert ndcg(1) == 1.0
    assert ndcg(3) == pytest.approx(1 / math.log2(4)) == pytest.approx(0.5)
    assert ndcg(10) == pytest.approx(1 / math.log2(11))
    assert ndcg(11) == 0.0
    assert reciprocal_rank(4) == 0.25


def test_diversity_and_repeat_rate():
    artist = np.array([1, 1, 2, 0, 0])
    assert artist_diversity([0, 1, 2], artist) == pytest.approx(2 / 3)
    # Unknown artists (0) count as different artists.
    assert artist_diversity([3, 4], artist) == 1.0
    assert repeat_rate([0, 1, 2, 3], recent=[3, 9, 0]) == 0.5
    assert repeat_rate([], recent=[1]) == 0.0


def _log(ranks: list[int], sessions: list[int], new: list[bool] | None = None) -> ListenerLog:
    log = ListenerLog(catalogue_size=100, sessions=sessions, new=new or [False] * len(ranks))
    method = MethodLog()
    for k, rank in enumerate(ranks):
        method.add_rank(rank, np.array([k % 100]), np.zeros(100, dtype=np.int32), recent=[])
    log.methods["m"] = method
    return log


def test_summary_point_values_are_hand_computed():
    log = _log([1, 2, 20, 1], sessions=[0, 0, 1, 1], new=[False, True, True, False])
    summary = summarise([log], bootstrap=200)
    m = summary.figures("m", "all")
    assert m["hr@1"] == pytest.approx(0.5)
    assert m["hr@10"] == pytest.approx(0.75)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0.05 + 1) / 4)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3) + 0 + 1) / 4, abs=1e-5)
    assert m["coverage"] == pytest.approx(4 / 100)
    low, high = m["mrr_ci"]
    assert low <= m["mrr"] <= high
    low, high = m["coverage_ci"]
    assert low <= m["coverage"] <= high
    new = summary.figures("m", "new")
    assert new["hr@10"] == pytest.approx(0.5)
    assert new["mrr"] == pytest.approx((0.5 + 0.05) / 2)


def test_listeners_are_averaged_not_pooled():
    a = _log([1] * 9, sessions=list(range(9)))
    b = _log([100], sessions=[0])
    summary = summarise([a, b], bootstrap=50)
    assert summary.figures("m", "all")["hr@1"] == pytest.approx(0.5)


def test_paired_bootstrap_decides_beats():
    sessions = [s for s in range(30) for _ in range(3)]
    good = _log([1] * 90, sessions)
    bad_method = MethodLog()
    for k in range(90):
        bad_method.add_rank(5 if k % 2 else 1, np.array([k]), np.zeros(100, np.int32), [])
    good.methods["worse"] = bad_method
    summary = summarise([good], bootstrap=300)
    verdict = summary.compare("m", "worse", "all")
    assert verdict["a_beats_b"] and not verdict["b_beats_a"]
    assert verdict["difference"] > 0 and verdict["difference_ci"][0] > 0
    same = summary.compare("m", "m", "all")
    assert not same["a_beats_b"] and not same["b_beats_a"]


def test_interval_ignores_nan_and_handles_empty():
    assert interval(np.array([np.nan, np.nan])) == [None, None]
    low, high = interval(np.array([1.0, 2.0, np.nan, 3.0]))
    assert 1.0 <= low <= high <= 3.0
