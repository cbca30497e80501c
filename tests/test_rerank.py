"""The re-ranker's rules and the explanations, each naming the track or fact it rests on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.recommend.baselines import make_baseline
from player_plugin.recommend.explain import (
    listens_fact,
    session_artist_reason,
    since_fact,
    track_reason,
)
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.recommend.variety import DIAL_POSITIONS, DialRules, VarietyProfile, dial_rules

DAY = 24 * 3600 * 1000
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)


def catalogue(n: int = 20, per_artist: int = 4) -> Catalogue:
    artist = (np.arange(n) // per_artist + 1).astype(np.int32)
    return Catalogue(
        track_ids=np.arange(n, dtype=np.int64) + 1,
        titles=[f"T{i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"A{a}" for a in range(1, n // per_artist + 2)],
        album=artist.copy(),
        album_names=[""] + [f"L{a}" for a in range(1, n // per_artist + 2)],
    )


def descending(n: int = 20) -> np.ndarray:
    return np.arange(n, 0, -1, dtype=np.float32)  # item 0 best, then 1, ...


def test_never_the_current_track_or_the_last_played():
    cat = catalogue()
    rr = Reranker(cat, RerankSettings(exclude_last=3, repeat_slots=0, artist_cap=0))
    rr.fit([Play(i, T0 + i * 60_000) for i in (5, 0, 1, 2)])
    out = rr.rerank(descending(), 5)
    assert out == [3, 4, 5, 6, 7]  # 0, 1, 2 are the last three; 5 was before them


def test_hidden_tracks_are_left_out():
    cat = catalogue()
    rr = Reranker(cat, RerankSettings(exclude_last=0, artist_window=0, artist_cap=0))
    assert rr.rerank(descending(), 3, hidden={0, 2}) == [1, 3, 4]


def test_skipped_repeatedly_of_late_is_left_out_until_listened_again():
    cat = catalogue()
    rr = Reranker(
        cat,
        RerankSettings(exclude_last=0, artist_window=0, artist_cap=0, skip_limit=2, skip_days=30),
    )
    rr.fit([Play(0, T0, 10_000, "skipped"), Play(0, T0 + DAY, 10_000, "skipped")])
    assert 0 not in rr.rerank(descending(), 5)
    # Skips long ago do not count.
    assert 0 in rr.rerank(descending(), 5, now_ms=T0 + 90 * DAY)
    rr.observe(Play(0, T0 + 2 * DAY, 200_000, "listened"))
    assert 0 in rr.rerank(descending(), 5)
    # That listen turns out to be stopped early after all: the two skips count again.
    assert rr.reclassify_last(Play(0, T0 + 2 * DAY, 9_000, "stopped"))
    assert rr.skipped_of_late() == {0}
    assert 0 not in rr.rerank(descending(), 5)


def test_no_artist_again_within_the_window():
    cat = catalogue()  # artists: items 0-3 -> 1, 4-7 -> 2, ...
    rr = Reranker(
        cat, RerankSettings(exclude_last=1, repeat_slots=0, artist_cap=0, artist_window=2)
    )
    rr.observe(Play(19, T0))  # current track: artist 5
    out = rr.rerank(descending(), 6)
    artists = [int(cat.artist[i]) for i in out]
    for k in range(1, len(artists)):
        assert artists[k] != artists[k - 1]
        if k >= 2:
            assert artists[k] != artists[k - 2]
    assert out[0] == 0
    assert out[:3] == [0, 4, 8]


def test_artist_window_may_count_the_current_track():
    cat = catalogue()
    rr = Reranker(
        cat,
        RerankSettings(
            exclude_last=1, repeat_slots=0, artist_cap=0, artist_window=2, artist_after_current=True
        ),
    )
    rr.observe(Play(3, T0))  # current track: artist 1, whose tracks score best
    out = rr.rerank(descending(), 3)
    assert out == [4, 8, 0]


def test_artist_rule_gives_way_when_nothing_else_is_left():
    cat = catalogue(n=4, per_artist=4)  # one artist only
    rr = Reranker(cat, RerankSettings(exclude_last=0, artist_window=3))
    assert rr.rerank(descending(4), 4) == [0, 1, 2, 3]


def test_discover_knob_sets_the_share_of_never_played():
    cat = catalogue()
    rr = Reranker(cat, RerankSettings(exclude_last=0, artist_window=0, artist_cap=0))
    rr.fit([Play(i, T0 + i) for i in range(10)])  # items 0-9 played, 10-19 never
    scores = descending()
    familiar = rr.rerank(scores, 10, discover=0.0)
    assert all(i < 10 for i in familiar)
    discover = rr.rerank(scores, 10, discover=1.0)
    assert all(i >= 10 for i in discover)
    half = rr.rerank(scores, 10, discover=0.5)
    assert sum(i >= 10 for i in half) == 5
    assert rr.rerank(scores, 10, discover=None) == list(range(10))


def test_discover_from_settings_is_the_default():
    cat = catalogue()
    rr = Reranker(cat, RerankSettings(exclude_last=0, artist_window=0, artist_cap=0, discover=1.0))
    rr.fit([Play(i, T0 + i) for i in range(10)])
    assert all(i >= 10 for i in rr.rerank(descending(), 5))


def test_settings_from_mapping_ignores_unknown_keys():
    s = RerankSettings.from_mapping({"discover": 0.3, "bogus": 1})
    assert s.discover == 0.3 and s.exclude_last == RerankSettings().exclude_last


def test_nan_scores_are_never_suggested():
    cat = catalogue()
    scores = descending()
    scores[0] = np.nan
    rr = Reranker(cat, RerankSettings(exclude_last=0, artist_window=0, artist_cap=0))
    assert rr.rerank(scores, 3) == [1, 2, 3]


# Explanations name the fact.


def _listens(plays: list[Play], item: int) -> np.ndarray:
    """The starts of *item*'s listens among *plays*, in their order."""
    return np.array([p.started_at for p in plays if p.item == item and p.listened], np.int64)


def _reason(plays: list[Play], item: int, cat: Catalogue, now: int) -> str:
    """The reason for *item* as the serving code asks it: from a recommender's index of
    its history (``track_plays``, ``artist_listens``)."""
    rec = make_baseline("recent")
    rec.fit(plays, cat)
    artist = int(cat.artist[item])
    started, listened = rec.track_plays(item)
    return track_reason(
        started, listened, item, cat, now, rec.artist_listens(artist) if artist else 0
    )


def test_a_lot_in_a_month():
    plays = [Play(3, T0 + k * 3600_000) for k in range(6)]  # six plays in March 2024
    assert listens_fact(_listens(plays, 3)) == "you played this a lot in March 2024 (6 times)"
    assert listens_fact(_listens(plays[:2], 3)) == "you played this 2 times"
    assert listens_fact(_listens(plays, 4)) == "new to you"


def _favourite_month_by_counter(plays: list[Play], item: int) -> str:
    """The favourite month as it was found before: a Counter of the listens' formatted
    months."""
    listens = [p.started_at for p in plays if p.item == item and p.listened]
    months = Counter(datetime.fromtimestamp(t / 1000, UTC).strftime("%B %Y") for t in listens)
    month, count = months.most_common(1)[0]
    if count >= 5:
        return f"you played this a lot in {month} ({count} times)"
    return "you played this once" if len(listens) == 1 else f"you played this {len(listens)} times"


def test_the_favourite_month_is_the_one_a_counter_of_months_finds():
    """Months counted in arrays (a date formatted per listen cost 3 ms a suggestion list):
    the same month, ties to the first in the plays' order, months at their UTC edges."""
    rng = np.random.default_rng(5)
    edges = [int(datetime(2024, m, 1, tzinfo=UTC).timestamp() * 1000) for m in range(1, 13)]
    for k in range(300):  # few months, so that ties of five and more happen; some out of order
        times = [
            int(edges[int(rng.integers(0, 3 if k % 2 else 12))] + rng.choice([-1, 0, 1, 9 * DAY]))
            for _ in range(int(rng.integers(1, 40)))
        ]
        times = times if k % 3 == 0 else sorted(times)
        plays = [
            Play(int(rng.integers(0, 2)), t, 200_000, rng.choice(["listened", "skipped"]))
            for t in times
        ]
        for item in (0, 1):
            if any(p.item == item and p.listened for p in plays):
                assert listens_fact(_listens(plays, item)) == _favourite_month_by_counter(
                    plays, item
                )


def test_not_heard_for_months():
    plays = [Play(3, T0)]
    assert since_fact(T0, T0 + 245 * DAY) == "not heard for 8 months"
    assert since_fact(T0, T0 + 3 * 3600_000) == "you played this 3 hours ago"
    assert since_fact(None, T0) == "new to you"
    cat = catalogue()
    assert _reason(plays, 3, cat, T0 + 245 * DAY) == "not heard for 8 months"


def test_new_track_by_a_known_artist_names_the_artist():
    cat = catalogue()
    plays = [Play(0, T0), Play(1, T0 + DAY)]
    assert _reason(plays, 2, cat, T0 + 2 * DAY) == "new to you, by A1 (you played them 2 times)"
    assert _reason(plays, 12, cat, T0) == "new to you"


def test_same_artist_names_the_session_track():
    cat = catalogue()
    assert session_artist_reason([Play(1, T0)], 2, cat) == "same artist as A1 – T1"
    assert session_artist_reason([Play(5, T0)], 2, cat) is None


def test_markov_says_what_it_follows():
    cat = catalogue()
    rec = make_baseline("markov")
    plays = [Play(0, T0), Play(1, T0 + 60_000), Play(0, T0 + DAY), Play(1, T0 + DAY + 60_000)]
    rec.fit([*plays, Play(0, T0 + 2 * DAY)], cat)
    assert rec.suggest(1) == [1]
    assert rec.explain(1) == "often follows A1 – T0 (2 times before)"
    assert rec.explain(7) is None


def test_markov_never_says_a_track_follows_itself_nor_often_once():
    cat = catalogue()
    rec = make_baseline("markov")
    plays = [Play(0, T0), Play(0, T0 + 60_000), Play(2, T0 + DAY), Play(0, T0 + DAY + 60_000)]
    rec.fit([*plays, Play(0, T0 + 2 * DAY)], cat)
    assert rec.explain(0) == "you played it twice in a row (once before)"
    rec.observe(Play(2, T0 + 3 * DAY))
    assert rec.explain(0) == "followed A1 – T2 once before"


def test_content_names_the_shared_artist_or_album():
    cat = catalogue()
    cat.album = np.arange(len(cat), dtype=np.int32) % 2 + 1  # two albums across artists
    cat.album_names = ["", "X", "Y"]
    rec = make_baseline("content")
    rec.fit([Play(0, T0)], cat)
    assert rec.explain(2) == "from the same album as A1 – T0 (X)"
    assert rec.explain(1) == "same artist as A1 – T0"


def test_equal_scores_keep_a_fixed_order_that_is_not_the_catalogue_order():
    """Catalogue order is the order tracks were added (in a catalogue built from a history,
    the order of first plays): equal scores must not be ranked by it."""
    cat = catalogue(n=60, per_artist=1)
    settings = RerankSettings(artist_window=0, artist_cap=0, exclude_last=0)
    picks = Reranker(cat, settings).rerank(np.ones(60, dtype=np.float32), 20, discover=None)
    again = Reranker(cat, settings).rerank(np.ones(60, dtype=np.float32), 20, discover=None)
    assert picks == again and len(set(picks)) == 20
    assert picks != sorted(picks) and picks != list(range(20))
    # a real difference in score still wins over the tie order
    scores = np.ones(60, dtype=np.float32)
    scores[37] = 1.5
    assert Reranker(cat, settings).rerank(scores, 5, discover=None)[0] == 37


def test_a_listen_reclassified_as_a_skip_restores_what_the_listen_cleared():
    """A track skipped once, then played (served as a listen while it plays, which clears
    its skips), then skipped again: counted in place it is skipped twice, as observed."""
    cat = catalogue()
    earlier = Play(5, T0, 10_000, "skipped", 0)
    playing = Play(5, T0 + DAY, 0, "listened", 1)
    skipped = Play(5, T0 + DAY, 10_000, "skipped", 1)
    patched = Reranker(cat).fit([earlier, playing])
    assert 5 not in patched.skipped_of_late(T0 + DAY)
    assert patched.reclassify_last(skipped)
    direct = Reranker(cat).fit([earlier, skipped])
    assert patched.skipped_of_late(T0 + DAY) == direct.skipped_of_late(T0 + DAY) == {5}
    assert patched.rerank(descending(), 5) == direct.rerank(descending(), 5)
    assert not patched.reclassify_last(Play(6, T0 + DAY, 10_000, "skipped", 1))


def replaying_history(cat: Catalogue, n: int, replay_every: int) -> list[Play]:
    """*n* listens cycling through the catalogue, every *replay_every*-th replaying the last."""
    plays: list[Play] = []
    for k in range(n):
        item = plays[-1].item if k and k % replay_every == 0 else k % len(cat)
        plays.append(Play(item, T0 + k * 60_000))
    return plays


def test_the_profile_measures_replays_first_plays_and_artist_runs():
    cat = catalogue(n=400, per_artist=4)  # runs of four tracks by one artist
    profile = VarietyProfile.learn(replaying_history(cat, 600, replay_every=4), cat)
    assert profile.listens == 600
    assert 0.2 < profile.repeat_share < 0.3  # a quarter of listens replay the one before
    assert profile.repeat_slots in (2, 3)
    assert profile.artist_cap >= 4  # the artist's four tracks (and the replays) in a row
    assert 0.5 < profile.fresh_share < 0.8
    shuffled = [Play(i * 7 % 400, T0 + i * 60_000) for i in range(600)]
    other = VarietyProfile.learn(shuffled, cat)
    assert other.repeat_share == 0 and other.repeat_slots == 0
    assert other.artist_cap < profile.artist_cap


def test_too_few_listens_keep_the_default_profile():
    cat = catalogue()
    assert VarietyProfile.learn([Play(i, T0 + i) for i in range(10)], cat) == VarietyProfile()


def test_a_replaying_listener_gets_replays_up_to_their_slots():
    cat = catalogue(n=400, per_artist=1)
    history = replaying_history(cat, 600, replay_every=4)
    rr = Reranker(cat, RerankSettings(artist_cap=0)).fit(history)
    recent = set(rr.recent)
    scores = np.zeros(400, dtype=np.float32)
    scores[list(recent)] = 10.0  # the just-played tracks score best
    ranked = rr.rerank(scores, 10)
    assert sum(i in recent for i in ranked) == rr.profile.repeat_slots > 0
    strict = Reranker(cat, RerankSettings(artist_cap=0, repeat_slots=0)).fit(history)
    assert not set(strict.rerank(scores, 10)) & recent


def test_no_more_tracks_by_one_artist_than_the_cap():
    cat = catalogue(n=20, per_artist=10)  # two artists
    rr = Reranker(cat, RerankSettings(exclude_last=0, artist_cap=3))
    assert rr.rerank(descending(), 6) == [0, 1, 2, 10, 11, 12]
    assert rr.rerank(descending(), 8)[6:] == [3, 4]  # then the cap gives way


def test_the_dial_moves_first_plays_from_none_to_all():
    cat = catalogue(n=200, per_artist=1)
    history = [Play(i % 100, T0 + i * 60_000) for i in range(300)]  # items 100+ never played
    rr = Reranker(cat, RerankSettings(artist_cap=0)).fit(history)
    rng = np.random.default_rng(0)
    scores = rng.random(200).astype(np.float32)
    fresh = [sum(i >= 100 for i in rr.rerank(scores, 20, dial=d)) for d in DIAL_POSITIONS]
    assert fresh[0] == 0 and fresh[-1] == 20
    assert fresh[3] >= fresh[2] and fresh[3] > fresh[1]
    middle = rr.rerank(scores, 20, dial=0.5)
    assert middle == rr.rerank(scores, 20, discover=None)  # the middle: as the scores say


def test_dial_rules_around_the_listeners_own_mix():
    profile = VarietyProfile(repeat_share=0.2, artist_cap=3, fresh_share=0.3, listens=1000)
    assert dial_rules(0.5, profile) == DialRules(None, 2)
    assert dial_rules(0.0, profile).discover == 0.0
    assert dial_rules(0.25, profile).discover == pytest.approx(0.15)
    assert dial_rules(0.75, profile).discover == pytest.approx(0.65)
    assert dial_rules(1.0, profile) == DialRules(1.0, 0)


def test_skipped_of_late_is_counted_from_each_tracks_recent_skips():
    """The tracks skipped ``skip_limit`` times since their last listen within the window,
    as each track's skips say (the re-ranker keeps only each one's limit-th newest skip),
    over random skips, listens, listens taken back as skips, limits and times."""
    rng = np.random.default_rng(3)
    cat = catalogue(n=30)
    for limit in (1, 2, 3):
        rr = Reranker(cat, RerankSettings(skip_limit=limit, skip_days=2.0))
        t = T0
        for _ in range(400):
            t += int(rng.integers(1, 20)) * 3_600_000
            item = int(rng.integers(0, 30))
            if rng.random() < 0.55:
                rr.observe(Play(item, t, 1000, Outcome.SKIPPED))
            else:
                rr.observe(Play(item, t, 200_000, Outcome.LISTENED))
                if rng.random() < 0.3:  # it ended as a skip after all
                    assert rr.reclassify_last(Play(item, t, 20_000, Outcome.SKIPPED))
            for now in (t, t + int(rng.integers(0, 4)) * 86_400_000):
                since = now - 2.0 * DAY
                expected = {
                    i for i, times in rr.skips.items() if sum(x >= since for x in times) >= limit
                }
                assert rr.skipped_of_late(now) == expected
