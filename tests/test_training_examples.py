"""The examples the trainer builds are exactly those of the code they replaced
(``legacy_training_data.py``, a frozen copy): the same targets, history inputs, negatives,
features, weights, array by array, whatever the settings, on a small and a larger history
with unknown artists, skips and every kind of ending."""

from __future__ import annotations

import legacy_training_data as legacy
import numpy as np
import pytest
from test_model_fixtures import synthetic_catalogue, synthetic_plays

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from training.data import build_examples

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


def assert_same(new, old) -> None:
    assert list(new.__dataclass_fields__) == list(old.__dataclass_fields__)
    for name in old.__dataclass_fields__:
        a, b = getattr(new, name), getattr(old, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)


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
def test_examples_equal_the_replaced_code(kw) -> None:
    for catalogue, plays in (
        (synthetic_catalogue(), synthetic_plays(400)),
        (wide := wide_catalogue(), wandering_plays(wide)),
    ):
        for seed in (0, 42):
            new = build_examples(plays, catalogue, seed=seed, **kw)
            old = legacy.build_examples(plays, catalogue, seed=seed, **kw)
            assert len(new) > 0
            assert_same(new, old)
