"""The examples the trainer builds are those of the code they replaced
(``legacy_training_data.py``, a frozen copy) — the same targets, history inputs, weights,
array by array, whatever the settings, on a small and a larger history with unknown
artists, skips and every kind of ending — but for the negatives drawn at random (drawn
more cheaply since stop 31) and the order of the most played ones: those are checked for
what they are (each candidate's features are its features at that moment, the recent
tracks come first, the most played lately are the most played, a draw is uniform)."""

from __future__ import annotations

from collections import Counter

import legacy_training_data as legacy
import numpy as np
import pytest
from test_model_fixtures import synthetic_catalogue, synthetic_plays

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend import features as F
from training.data import MostPlayedLately, Uniform, _some_of, build_examples

OUTCOMES = ("listened", "listened", "listened", "skipped", "browsing", "stopped", "error")


def wide_catalogue(n: int = 900, n_artists: int = 60, seed: int = 1) -> Catalogue:
    """Artists of very different sizes (some tracks with no artist), albums within them."""
    rng = np.random.default_rng(seed)
    artist = rng.zipf(1.6, n).clip(1, n_artists).astype(np.int32)
    artist[rng.random(n) < 0.05] = 0
    album = (artist * 3 + rng.integers(0, 3, n)).astype(np.int32)
    album[artist == 0] = 0
    return Catalogue(
        track_ids=np.arange(1, n + 1, dtype=np.int64),
        titles=[f"Track {i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"Artist {a}" for a in range(1, n_artists + 1)],
        album=album,
        album_names=[""] + [f"Album {a}" for a in range(1, int(album.max()) + 1)],
        duration_ms=np.full(n, 200_000, dtype=np.int32),
    )


def wandering_plays(catalogue: Catalogue, n_plays: int = 1200, seed: int = 2) -> list[Play]:
    """Replays of recent tracks, runs of one artist, discoveries, sessions and gaps."""
    rng = np.random.default_rng(seed)
    n = len(catalogue)
    plays: list[Play] = []
    t, session = 1_700_000_000_000, 0
    for _ in range(n_plays):
        r = rng.random()
        if plays and r < 0.45:  # a recent track again
            item = plays[-int(rng.integers(1, min(30, len(plays)) + 1))].item
        elif plays and r < 0.7:  # the same artist
            same = np.flatnonzero(catalogue.artist == catalogue.artist[plays[-1].item])
            item = int(rng.choice(same))
        else:
            item = int(rng.integers(n))
        outcome = OUTCOMES[int(rng.integers(len(OUTCOMES)))]
        ms = 200_000 if outcome == "listened" else int(rng.integers(1_000, 60_000))
        plays.append(Play(item, t, ms, outcome, session))
        t += ms + int(rng.integers(0, 5_000))
        if rng.random() < 0.05:
            t += int(rng.integers(1, 30)) * 3_600_000
            session += 1
    return plays


SAME = ("hist_items", "hist_outcome", "hist_gap", "context", "times", "weight", "listened")


def assert_same(new, old) -> None:
    """Equal but for the negatives (column 1 on of the candidates' arrays)."""
    assert list(new.__dataclass_fields__) == list(old.__dataclass_fields__)
    for name in old.__dataclass_fields__:
        a, b = getattr(new, name), getattr(old, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if name in SAME:
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            np.testing.assert_array_equal(a[:, 0], b[:, 0], err_msg=name)


def assert_candidates_are_what_they_say(ex, plays, catalogue, kw) -> None:
    """Replaying the history: at each target, every candidate's features and "seen" are
    the state's, no negative is the target, and the negatives begin with the recent
    tracks (the first hard pool), as many as the hard share takes."""
    state = F.HistoryState(catalogue, blind=kw.get("blind", False))
    k, first = kw["negatives"], kw.get("first_target", 1)
    want = int(k * kw["hard_share"])
    row = 0
    for index, play in enumerate(plays):
        is_target = kw.get("blind", False) or play.listened or kw.get("other_weight", 0) > 0
        if index >= first and state.plays and is_target:
            cand = ex.cand_items[row]
            assert cand[0] == play.item and ex.times[row] == play.started_at
            feats = state.item_features(cand).astype(np.float16)
            np.testing.assert_array_equal(ex.cand_feat[row], feats)
            np.testing.assert_array_equal(ex.cand_seen[row], state.seen[cand])
            negs = cand[1:]
            assert np.isneginf(ex.cand_logw[row, 1:][negs == play.item]).all()
            recent = [i for i in state.recent_items(16) if i != play.item][:want]
            assert negs[: len(recent)].tolist() == recent
            row += 1
        state.observe(play)
    assert row == len(ex)


@pytest.mark.parametrize(
    "kw",
    [
        {"blind": False, "negatives": 64, "hard_share": 0.5, "other_weight": 1.0},
        {"blind": False, "negatives": 12, "hard_share": 0.75, "new_weight": 4.0},
        {"blind": True, "negatives": 20, "hard_share": 0.5, "first_target": 7},
        {"blind": False, "negatives": 16, "hard_share": 0.0, "other_weight": 0.5},
        {"blind": False, "negatives": 8, "hard_share": 1.0},
    ],
)
def test_examples_equal_the_replaced_code_but_for_the_drawn_negatives(kw) -> None:
    for catalogue, plays in (
        (synthetic_catalogue(), synthetic_plays(400)),
        (wide := wide_catalogue(), wandering_plays(wide)),
    ):
        for seed in (0, 42):
            new = build_examples(plays, catalogue, seed=seed, **kw)
            old = legacy.build_examples(plays, catalogue, seed=seed, **kw)
            assert len(new) > 0
            assert_same(new, old)
        assert_candidates_are_what_they_say(new, plays, catalogue, kw)
        again = build_examples(plays, catalogue, seed=42, **kw)
        for name in new.__dataclass_fields__:  # one seed, one set of examples
            np.testing.assert_array_equal(getattr(again, name), getattr(new, name))


def test_the_most_played_lately_are_the_most_played_at_every_moment() -> None:
    """The top kept play by play equals ranking every track's decayed count at that time."""
    catalogue = wide_catalogue()
    plays = wandering_plays(catalogue, 1500, seed=5)
    state, lately = F.HistoryState(catalogue), MostPlayedLately(8)
    checked = 0
    for n, play in enumerate(plays):
        state.observe(play)
        lately.played(state, play.item)
        if n % 25 or n < 30:
            continue
        dec = np.where(
            state.seen,
            state.dec30 * np.exp(-np.maximum(state.now - state.dec_t, 0) / (30 * F.DAY_MS)),
            0.0,
        )
        order = np.argsort(-dec, kind="stable")
        if np.isclose(dec[order[7]], dec[order[8]], rtol=1e-9):
            continue  # a tie at the edge: either is right
        assert lately.items() == order[:8].tolist()  # most played first
        checked += 1
    assert checked > 40


def test_a_few_drawn_from_many_are_distinct_uniform_and_in_random_order() -> None:
    uniform = Uniform(np.random.default_rng(7))
    members = np.array([10, 11, 12, 13, 14, 15])
    subsets: Counter = Counter()
    firsts: Counter = Counter()
    for _ in range(30_000):
        drawn = _some_of(members, 4, uniform)
        assert len(set(drawn)) == 4 and set(drawn) <= set(members.tolist())
        subsets[frozenset(drawn)] += 1
        firsts[drawn[0]] += 1
    assert len(subsets) == 15  # every 4 of 6, each about 2,000 times
    assert all(abs(c - 2_000) < 200 for c in subsets.values()), subsets
    assert all(abs(c - 5_000) < 400 for c in firsts.values()), firsts  # any may come first
    whole = uniform.below(7, 70_000)
    assert whole.min() == 0 and whole.max() == 6
    assert all(abs(c - 10_000) < 500 for c in np.bincount(whole))
