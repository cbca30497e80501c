"""What each baseline specifically knows, beyond the shared contract."""

from __future__ import annotations

import numpy as np
import pytest

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend import baselines_mf
from player_plugin.recommend.baselines import DecayedCounts, baseline_names, make_baseline

DAY = 24 * 3600 * 1000
MIN = 60_000
T0 = 1_600_000_000_000


def catalogue(n: int = 12, audio: np.ndarray | None = None) -> Catalogue:
    artist = (np.arange(n) // 3 + 1).astype(np.int32)
    return Catalogue(
        track_ids=np.arange(n, dtype=np.int64) + 1,
        titles=[f"T{i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"A{a}" for a in range(1, n // 3 + 2)],
        album=np.zeros(n, dtype=np.int32),
        album_names=[""],
        audio=audio,
    )


def test_most_played_favours_recent_plays_over_old_ones():
    rec = make_baseline("most-played")
    old = [Play(0, T0 + k * MIN * 5) for k in range(5)]
    rec.fit([*old, Play(1, T0 + 200 * DAY), Play(1, T0 + 200 * DAY + 5 * MIN)], catalogue())
    assert rec.suggest(2) == [1, 0]
    assert rec.explain(1) == "you played this 2 times"


def test_skips_count_against_a_track():
    rec = make_baseline("most-played")
    plays = [Play(0, T0), Play(1, T0 + MIN), Play(1, T0 + 2 * MIN, 8_000, "skipped")]
    rec.fit(plays, catalogue())
    scores = rec.scores()
    assert scores[0] > scores[1]


def test_markov_does_not_chain_across_sessions():
    rec = make_baseline("markov")
    plays = [
        Play(0, T0),
        Play(5, T0 + 2 * 3600_000),
        Play(0, T0 + DAY),
        Play(6, T0 + DAY + 4 * MIN),
    ]
    rec.fit(plays, catalogue())
    rec.observe(Play(0, T0 + 2 * DAY))
    assert rec.suggest(1) == [6]
    assert rec.explain(5) is None


def test_session_knn_follows_the_sequence_of_similar_sessions():
    rec = make_baseline("session-knn")
    plays, t = [], T0
    for _ in range(5):
        for item in (0, 3, 6, 9):
            plays.append(Play(item, t))
            t += 4 * MIN
        t += DAY
    rec.fit(plays, catalogue())
    rec.observe(Play(3, t))
    assert rec.suggest(1) == [6]  # what came right after 3, not what came before
    assert "played with A2 – T3" in rec.explain(6)


def test_item_knn_names_the_neighbour():
    rec = make_baseline("item-knn")
    plays = [Play(0, T0), Play(4, T0 + 4 * MIN), Play(0, T0 + DAY), Play(4, T0 + DAY + 4 * MIN)]
    rec.fit([*plays, Play(0, T0 + 2 * DAY)], catalogue())
    assert rec.suggest(2)[0] in (0, 4)
    assert rec.explain(4) == "often played near A1 – T0"


def test_content_uses_audio_when_tags_say_nothing():
    rng = np.random.default_rng(3)
    audio = rng.normal(size=(12, 6)).astype(np.float32)
    audio[7] = audio[2] + 0.01  # 7 sounds like 2
    cat = catalogue(audio=audio)
    cat.artist[:] = 0
    cat.artist_names = [""]
    rec = make_baseline("content")
    rec.fit([Play(2, T0)], cat)
    assert rec.suggest(2)[0] in (2, 7)
    assert 7 in rec.suggest(2)
    assert rec.explain(7) == "sounds like T2"


def test_content_ignores_unanalysed_rows():
    audio = np.full((12, 4), np.nan, dtype=np.float32)
    audio[:6] = np.random.default_rng(0).normal(size=(6, 4))
    rec = make_baseline("content")
    rec.fit([Play(8, T0)], catalogue(audio=audio))
    assert np.isfinite(rec.scores()).all()


def test_decayed_counts_stay_finite_over_decades():
    counts = DecayedCounts(3, half_life_days=1.0)
    for day in range(0, 20 * 365, 7):
        counts.add(day % 3, T0 + day * DAY, 1.0)
    values = counts.values()
    assert np.isfinite(values).all() and values.max() > 0


def test_unknown_method_is_refused():
    with pytest.raises(KeyError, match="unknown method"):
        make_baseline("nope")


def test_mf_is_listed_only_when_implicit_is_installed():
    assert ("mf" in baseline_names()) == baselines_mf.available()
