"""The contract every recommender passes (baselines and the model alike), on data with a
known answer. Import it from any test (``from recommender_contract import check_contract``).

The history: 8 artists with 5 tracks each (one album per artist). Twenty past sessions,
two hours apart, play tracks 0 → 1 → 2 → 3 of artist 1; twenty more play other artists'
tracks. The current session has played 0 then 1: track 2 is the answer — it always
followed 1, it is frequent and recent, and it shares the artist and album.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend.base import Recommender

HOUR_MS = 3600 * 1000
T0 = 1_700_000_000_000
N_ARTISTS, PER_ARTIST = 8, 5
ANSWER = 2


def contract_catalogue(audio: bool = False) -> Catalogue:
    n = N_ARTISTS * PER_ARTIST
    artist = np.arange(n, dtype=np.int32) // PER_ARTIST + 1
    rng = np.random.default_rng(7)
    return Catalogue(
        track_ids=np.arange(100, 100 + n, dtype=np.int64),
        titles=[f"Song {i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"Artist {a}" for a in range(1, N_ARTISTS + 1)],
        album=artist.copy(),
        album_names=[""] + [f"Album {a}" for a in range(1, N_ARTISTS + 1)],
        year=(1990 + artist).astype(np.int32),
        audio=rng.normal(size=(n, 4)).astype(np.float32) if audio else None,
        paths=[f"/music/{i}.flac".encode() for i in range(n)],
    )


def contract_history() -> tuple[list[Play], list[Play]]:
    """(past plays, the current session so far)."""
    plays: list[Play] = []
    t = T0
    session = 0
    for k in range(40):
        if k % 2 == 1:  # the last past session is the pattern
            sequence = [0, 1, 2, 3]
        else:
            other = 1 + (k // 2) % (N_ARTISTS - 1)  # artists 2..8
            sequence = [other * PER_ARTIST + j for j in (0, 2, 1)]
        for item in sequence:
            plays.append(Play(item, t, 200_000, "listened", session))
            t += 4 * 60 * 1000
        t += 2 * HOUR_MS
        session += 1
    current = [
        Play(0, t, 200_000, "listened", session),
        Play(1, t + 240_000, 200_000, "listened", session),
    ]
    return plays, current


def check_contract(
    factory: Callable[[], Recommender],
    *,
    knows_answer: bool = True,
    top_k: int = 5,
    audio: bool = False,
) -> Recommender:
    """Assert the interface and the known answer; returns the fitted recommender."""
    catalogue = contract_catalogue(audio)
    past, current = contract_history()
    n = len(catalogue)

    # Cold: no plays at all is not an error.
    cold = factory()
    cold.fit([], catalogue)
    cold_scores = np.asarray(cold.scores())
    assert cold_scores.shape == (n,)
    assert len(cold.suggest(3)) <= 3

    rec = factory()
    rec.fit(past, catalogue)
    for play in current:
        rec.observe(play)
    assert [p.item for p in rec.session] == [0, 1], "the session is the plays since the gap"
    scores = rec.scores()
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float32
    assert scores.shape == (n,)
    assert not np.isposinf(scores).any()

    top = rec.suggest(10)
    assert len(top) == 10 and len(set(top)) == 10
    ordered = [float(np.nan_to_num(scores[i], nan=-np.inf)) for i in top]
    assert ordered == sorted(ordered, reverse=True), "suggest is best first"
    assert not any(np.isnan(scores[i]) for i in top if np.isfinite(ordered[-1]))
    excluded = rec.suggest(10, exclude=top[:3])
    assert not set(top[:3]) & set(excluded)
    assert rec.suggest(0) == []

    if knows_answer:
        assert ANSWER in rec.suggest(top_k), f"{rec.name}: track {ANSWER} not in the top {top_k}"
        reason = rec.explain(ANSWER)
        assert reason is None or (isinstance(reason, str) and reason)
    for item in range(n):
        said = rec.explain(item)
        assert said is None or isinstance(said, str)

    # Fitting again from scratch gives the same answer: ``fit`` resets state.
    again = factory()
    again.fit(past, catalogue)
    rec.fit(past, catalogue)
    for play in current:
        rec.observe(play)
        again.observe(play)
    np.testing.assert_array_equal(
        np.nan_to_num(rec.scores(), nan=-1), np.nan_to_num(again.scores(), nan=-1)
    )

    return rec


def check_unplayed_first(factory: Callable[[], Recommender]) -> None:
    """Diagnostics that suggest not-yet-played tracks: never a played one above them."""
    catalogue = contract_catalogue()
    past, current = contract_history()
    rec = factory()
    rec.fit([*past, *current], catalogue)
    played = {p.item for p in [*past, *current]}
    scores = rec.scores()
    unplayed = [i for i in range(len(catalogue)) if i not in played]
    assert min(scores[unplayed]) > max(scores[list(played)])
    assert set(rec.suggest(len(unplayed))) == set(unplayed)
