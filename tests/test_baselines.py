"""What each baseline specifically knows, beyond the shared contract."""

from __future__ import annotations

import numpy as np
import pytest

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend import baselines_mf
from player_plugin.recommend.baselines import DecayedCounts, baseline_names, make_baseline
from player_plugin.recommend.explain import listens_fact, since_fact, track_reason

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


def _state(value: object) -> object:
    """A recommender's state as plain, comparable values: arrays by dtype and bytes (bit
    for bit), dicts with their keys' order, objects by their attributes."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return ("dict", [(k, _state(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_state(v) for v in value])
    if isinstance(value, Catalogue):  # shared, never written: the same object
        return ("catalogue", id(value))
    if hasattr(value, "__dict__") and not isinstance(value, Play):
        return (type(value).__name__, _state(vars(value)))
    return value


INCREMENTAL_BASELINES = ["content", "item-knn", "markov", "most-played", "recent", "session-knn"]


@pytest.mark.parametrize("outcome", ["skipped", "stopped", "browsing", "error"])
@pytest.mark.parametrize("name", INCREMENTAL_BASELINES)
def test_a_listen_reclassified_in_place_equals_observing_its_real_outcome(name, outcome):
    """The serving cache observes the play in progress as a listen; when it ends as a skip
    (a stop, a browse, an error) the baseline counts it so in place: its whole state then
    equals, bit for bit, a fit on the plays with the real outcome — scores and reasons too."""
    rng = np.random.default_rng(7)
    cat = catalogue(14, audio=rng.normal(size=(14, 4)).astype(np.float32))
    t, plays = T0, []
    for k in range(60):  # sessions with repeats, skips, and a gap now and then
        t += (3 * 3600_000 if k % 13 == 12 else 4 * MIN) + int(rng.integers(0, MIN))
        kind = "skipped" if k % 5 == 4 else "listened"
        plays.append(Play(int(rng.integers(0, 12)), t, 200_000, kind))
    before, last = plays[:-1], plays[-1]
    cases = [
        (before, last),  # a track heard before, after one heard before
        (plays, Play(plays[-2].item, t + 5 * MIN, 200_000)),  # a repeat
        # the first plays of two new tracks: what the last one's counting made is new
        ([*plays, Play(12, t + 9 * MIN, 200_000)], Play(13, t + 13 * MIN, 200_000)),
    ]
    for before, last in cases:
        ended = replace_outcome(last, outcome)
        in_place = make_baseline(name)
        in_place.fit([*before, replace_outcome(last, "listened")], cat)
        in_place.scores()
        assert in_place.reclassify_last(ended)
        direct = make_baseline(name)
        direct.fit([*before, ended], cat)
        assert np.array_equal(in_place.scores(), direct.scores())
        assert _state(vars(in_place)) == _state(vars(direct))
        assert [in_place.explain(i) for i in range(14)] == [direct.explain(i) for i in range(14)]


def replace_outcome(play: Play, outcome: str) -> Play:
    return Play(play.item, play.started_at, play.ms_played, outcome)


def test_a_baseline_does_not_reclassify_what_it_did_not_observe_as_a_listen():
    rec = make_baseline("most-played")
    plays = [Play(1, T0), Play(2, T0 + MIN, outcome="skipped")]
    rec.fit(plays, catalogue())
    assert not rec.reclassify_last(Play(2, T0 + MIN, outcome="stopped"))  # not a listen
    assert not rec.reclassify_last(Play(1, T0, outcome="skipped"))  # not the last play
    assert not make_baseline("random-unplayed").reclassify_last(Play(1, T0, outcome="skipped"))


def _reason_by_loop(history: list[Play], item: int, cat: Catalogue, now: int) -> str:
    """The reason for *item* as it was found before the index: loops over every play."""
    mine = [p for p in history if p.item == item]
    artist = cat.artist[item]
    if not mine:
        known = sum(1 for p in history if cat.artist[p.item] == artist and p.listened)
        if artist and known:
            return f"new to you, by {cat.artist_names[artist]} (you played them {known} times)"
        return "new to you"
    if (now - mine[-1].started_at) / DAY >= 60:
        return since_fact(mine[-1].started_at, now)
    return listens_fact(np.array([p.started_at for p in mine if p.listened], np.int64))


def test_the_play_index_answers_as_a_loop_over_the_history_does():
    """Reasons ask each suggested track's plays of an index kept up as plays arrive (a
    listen replaced by its skip, a refit on another history): its answers, and the reason
    built on them, are those of a loop over the whole history."""
    rng = np.random.default_rng(3)
    cat = catalogue(14)
    plays = [
        Play(
            int(rng.integers(0, 12)), T0 + k * 4 * MIN, 200_000, "skipped" if k % 4 else "listened"
        )
        for k in range(3000)
    ]
    rec = make_baseline("most-played")

    def check() -> None:
        for item in range(14):
            mine = [p for p in rec.history if p.item == item]
            started, listened = rec.track_plays(item)
            assert started.tolist() == [p.started_at for p in mine]
            assert listened.tolist() == [p.listened for p in mine]
            artist = int(cat.artist[item])
            loop = sum(1 for p in rec.history if cat.artist[p.item] == artist and p.listened)
            assert rec.artist_listens(artist) == loop
            for now in (T0 + 400 * DAY, rec.history[-1].started_at + MIN):
                said = track_reason(started, listened, item, cat, now, loop)
                assert said == _reason_by_loop(rec.history, item, cat, now)

    rec.fit(plays[:1000], cat)
    check()
    for play in plays[1000:1003]:
        rec.observe(play)
    check()
    rec.observe(Play(13, plays[1002].started_at + MIN, 200_000))
    check()
    assert rec.reclassify_last(Play(13, plays[1002].started_at + MIN, 9_000, "skipped"))
    check()
    rec.fit(plays[2000:], cat)  # another list, shorter: indexed afresh
    check()
    assert rec.track_plays(13)[0].size == 0
