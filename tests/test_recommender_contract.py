"""Every baseline passes the one recommender contract (tests/recommender_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest
from recommender_contract import (
    check_contract,
    check_unplayed_first,
    contract_catalogue,
    contract_history,
)

from player_plugin.recommend.base import Recommender
from player_plugin.recommend.baselines import baseline_names, make_baseline

DIAGNOSTICS = {"random-unplayed", "unplayed-same-artist"}
RANKERS = [name for name in baseline_names() if name not in DIAGNOSTICS]


def test_every_design_baseline_is_registered():
    expected = {
        "most-played",
        "recent",
        "markov",
        "item-knn",
        "session-knn",
        "content",
        "random-unplayed",
        "unplayed-same-artist",
    }
    assert expected <= set(baseline_names())


@pytest.mark.parametrize("name", RANKERS)
def test_baseline_contract(name):
    rec = check_contract(lambda: make_baseline(name))
    assert rec.name == name


@pytest.mark.parametrize("name", RANKERS)
def test_baseline_contract_with_audio(name):
    check_contract(lambda: make_baseline(name), audio=True)


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_diagnostics_contract(name):
    check_contract(lambda: make_baseline(name), knows_answer=False)
    check_unplayed_first(lambda: make_baseline(name))


def test_unplayed_same_artist_puts_the_last_artist_first():
    catalogue = contract_catalogue()
    past, current = contract_history()
    rec = make_baseline("unplayed-same-artist")
    rec.fit([*past, *current], catalogue)
    # Artist 1 (items 0-4) has one track never played: item 4.
    assert rec.suggest(1) == [4]
    assert "new to you" in rec.explain(4)


class _NanScores(Recommender):
    name = "nan"

    def scores(self) -> np.ndarray:
        out = np.arange(len(self.catalogue), dtype=np.float32)
        out[-1] = np.nan
        return out


def test_nan_never_ranks_first():
    rec = _NanScores()
    rec.fit([], contract_catalogue())
    top = rec.suggest(5)
    assert top[0] == len(rec.catalogue) - 2
    assert len(rec.catalogue) - 1 not in top
