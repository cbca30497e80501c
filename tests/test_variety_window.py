"""The listener's variety kept up to date as plays arrive equals learning it afresh.

The serving state is fitted once and then observes plays for days; the re-ranker's
variety profile (replays, first plays, one artist's runs, over the newest 5,000 plays) must
then be what :meth:`VarietyProfile.learn` finds over every play so far, or cached
suggestions drift from a fresh build (found at 200,000 plays: an artist cap of 8 in one,
9 in the other). Random histories longer than the window, with skips, unknown artists,
runs of one artist, replays and plays reclassified as skips, are checked along the way.
"""

from __future__ import annotations

import dataclasses
import itertools
import random

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.recommend.rerank import Reranker
from player_plugin.recommend.variety import (
    LIST,
    WINDOW,
    VarietyProfile,
    VarietyWindow,
    _cap,
    cap_of_counts,
    peaks_of,
)

T0 = 1_700_000_000_000


def catalogue(n: int, artists: int) -> Catalogue:
    artist = (np.arange(n) % (artists + 1)).astype(np.int32)  # code 0: artist unknown
    return Catalogue(
        track_ids=np.arange(n, dtype=np.int64) + 1,
        titles=[f"T{i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"A{a}" for a in range(1, artists + 1)],
        album=artist.copy(),
        album_names=[""] + [f"L{a}" for a in range(1, artists + 1)],
    )


def history(rng: random.Random, cat: Catalogue, n: int) -> list[Play]:
    """Plays with moods: runs of one artist, replays of the last few, new tracks, skips."""
    plays: list[Play] = []
    artists = cat.artist
    for k in range(n):
        mood = rng.random()
        if plays and mood < 0.3:
            item = plays[-rng.randint(1, min(12, len(plays)))].item
        elif plays and mood < 0.6:
            a = int(artists[plays[-1].item])
            item = rng.choice(np.flatnonzero(artists == a).tolist())
        else:
            item = rng.randrange(len(cat))
        outcome = Outcome.SKIPPED if rng.random() < 0.2 else Outcome.LISTENED
        plays.append(Play(item, T0 + k * 60_000, 0, outcome))
    return plays


def test_the_window_equals_learning_afresh_along_long_histories() -> None:
    for seed, (size, artists, n) in enumerate(
        [(300, 20, 6_500), (60, 3, 5_600), (2_000, 400, 700)]
    ):
        rng = random.Random(seed)
        cat = catalogue(size, artists)
        plays = history(rng, cat, n)
        start = rng.randrange(0, 400)
        window = VarietyWindow.start(plays[:start], cat)
        seen = plays[:start]
        checked = 0
        for k, play in enumerate(plays[start:], start=start):
            window.observe(play, int(cat.artist[play.item]))
            seen.append(play)
            if play.listened and rng.random() < 0.05:  # the listen ended as a skip
                window.reclassify_last()
                seen[-1] = dataclasses.replace(play, outcome=Outcome.SKIPPED)
            if k % 97 == 0 or k == n - 1:
                assert window.profile() == VarietyProfile.learn(seen, cat), (seed, k)
                artists = [int(cat.artist[p.item]) for p in seen[-WINDOW:] if p.listened]
                peaks = peaks_of(artists)  # how many of the window's listens have each peak
                assert window._counts() == [peaks.count(v) for v in range(LIST + 1)], (seed, k)
                checked += 1
        assert VarietyWindow.start(seen, cat).profile() == window.profile()
        assert checked > 5
        if n > WINDOW:  # the window slid, and the profile is a learned one
            assert window.profile().listens > 0


def test_a_following_reranker_has_the_profile_of_all_its_plays() -> None:
    """``Reranker(follow=True)`` (the serving state's) keeps its profile up to date; the
    default one keeps what it learned at fit (the evaluation's: the training window's)."""
    rng = random.Random(5)
    cat = catalogue(200, 6)
    plays = history(rng, cat, WINDOW + 800)
    following = Reranker(cat, follow=True).fit(plays[:WINDOW])
    fixed = Reranker(cat).fit(plays[:WINDOW])
    assert following.profile == fixed.profile == VarietyProfile.learn(plays[:WINDOW], cat)
    for play in plays[WINDOW:]:
        following.observe(play)
        fixed.observe(play)
    assert following.profile == VarietyProfile.learn(plays, cat)
    assert fixed.profile == VarietyProfile.learn(plays[:WINDOW], cat)
    assert following.profile != fixed.profile  # the 800 plays moved it
    last = dataclasses.replace(
        plays[-1], outcome=Outcome.LISTENED, started_at=plays[-1].started_at + 1
    )
    following.observe(last)
    assert following.reclassify_last(dataclasses.replace(last, outcome=Outcome.SKIPPED))
    assert following.profile == VarietyProfile.learn(
        [*plays, dataclasses.replace(last, outcome=Outcome.SKIPPED)], cat
    )


def test_the_artist_cap_from_counts_is_numpys_percentile() -> None:
    """The cap worked out on the counts of each peak equals np.percentile's on the peaks
    listed: every count vector of up to 12 peaks over four values, then random windows."""

    def listed(counts: list[int]) -> np.ndarray:
        return np.repeat(np.arange(len(counts)), counts)

    checked = 0
    for counts in itertools.product(range(4), repeat=5):  # values 0..4, up to 12 peaks
        c = list(counts)
        assert cap_of_counts(c) == _cap(listed(c)), c
        checked += 1
    rng = np.random.default_rng(4)
    for _ in range(3_000):
        c = rng.integers(0, rng.choice([3, 40, 900]), LIST + 1).tolist()
        assert cap_of_counts(c) == _cap(listed(c)), c
    assert checked == 4**5
