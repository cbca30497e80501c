"""A served history's sparse tables built at once (``HistoryState(rows_later=True)``, then
``pack_rows``; recommend/replay_rows.py) are the tables the play-by-play replay writes and
packs: the same rows in the same order, each with the same keys in the same order and the
same weights bit for bit — over histories with repeats in a session, a track played twice
in a row, one-play sessions, long sessions, skips and first plays; the rest of the state
the same; and the plays after it written to the rows as the replay's would be."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_model_fixtures import MIN, T0
from test_warm_state import _same

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play, PlayLog
from player_plugin.recommend import features as F
from player_plugin.recommend import replay_rows
from player_plugin.recommend.replay_rows import replay_tables, session_positions

N_TRACKS = 800


def catalogue() -> Catalogue:
    artist = (np.arange(N_TRACKS) % 37).astype(np.int32)  # artist 0: unknown
    album = (np.arange(N_TRACKS) % 53).astype(np.int32)
    return Catalogue(
        track_ids=np.arange(1, N_TRACKS + 1, dtype=np.int64),
        titles=[f"Track {i}" for i in range(N_TRACKS)],
        artist=artist,
        artist_names=[""] + [f"Artist {a}" for a in range(1, 37)],
        album=album,
        album_names=[""] + [f"Album {a}" for a in range(1, 53)],
        duration_ms=np.full(N_TRACKS, 200_000, dtype=np.int32),
    )


def history(n: int, seed: int) -> list[Play]:
    """Favourites and first plays, the same track again at once, runs past the 50-play
    span, one-play sessions, gaps of exactly the session gap, every outcome, days apart."""
    rng = np.random.default_rng(seed)
    outcomes = list(Outcome)
    plays: list[Play] = []
    t, item = T0, 0
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            pass  # the same track again
        elif r < 0.6:
            item = int(rng.integers(0, 12))
        else:
            item = int(rng.integers(0, N_TRACKS))
        end = outcomes[int(rng.choice(5, p=[0.6, 0.15, 0.1, 0.1, 0.05]))]
        plays.append(Play(item, t, 100_000, end, 0))
        gap = rng.random()
        if gap < 0.05:
            t += SESSION_GAP_MS  # exactly the gap: the same session
        elif gap < 0.12:
            t += SESSION_GAP_MS + 1 + int(rng.integers(0, 40)) * 86_400_000
        else:
            t += int(rng.integers(0, 6)) * MIN
    return plays


def built(
    plays: list[Play], *, rows_later: bool, blind: bool = False, columns: bool = False
) -> F.HistoryState:
    """A state that observed *plays* and packed its rows: one by one, or with *columns*
    (and ``rows_later``) counted from a log's columns by ``replay``."""
    state = F.HistoryState(catalogue(), blind=blind, rows_later=rows_later)
    if columns:
        state.replay(PlayLog(plays))
    else:
        state.extend(plays)
    state.pack_rows()
    return state


def same_tables(got: F.HistoryState, want: F.HistoryState) -> None:
    for name in ("trans", "window", "cooc"):
        a, b = getattr(got, name), getattr(want, name)
        assert list(a.live) == list(b.live), name
        assert list(a.packed) == list(b.packed), name
        for key in a.live:
            assert list(a.live[key].items()) == list(b.live[key].items()), (name, key)
        for key in a.packed:
            for x, y in zip(a.packed[key], b.packed[key], strict=True):
                assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (name, key)


def same_state(got: F.HistoryState, want: F.HistoryState) -> None:
    same_tables(got, want)
    mine, theirs = vars(got), vars(want)
    assert list(mine) == list(theirs)
    for name, value in mine.items():
        if name not in ("trans", "window", "cooc"):
            _same(value, theirs[name])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [700, 3_000])
def test_the_tables_built_at_once_are_the_replays_bit_for_bit(n, seed) -> None:
    plays = history(n, seed)
    want = built(plays, rows_later=False)
    got = [built(plays, rows_later=True), built(plays, rows_later=True, columns=True)]
    for state in got:
        assert len(want.cooc) > 50 and not state.cooc.live
        same_state(state, want)
    for state in got:  # (its caches made: compared after the states)
        np.testing.assert_array_equal(state.item_features(), want.item_features())


@pytest.mark.parametrize("group", [1, 64, 5_000])
def test_rows_made_a_few_tracks_at_a_time_are_the_same(group, monkeypatch) -> None:
    plays = history(3_000, 7)
    want = built(plays, rows_later=False)
    monkeypatch.setattr(replay_rows, "_GROUP", group)  # the emissions sorted at a time
    same_state(built(plays, rows_later=True), want)


@pytest.mark.parametrize(
    "plays",
    [
        [],
        [Play(3, T0, 100_000, Outcome.LISTENED, 0)],
        [Play(3, T0 + i * MIN, 100_000, Outcome.LISTENED, 0) for i in range(5)],  # one track
        [Play(i, T0 + i * (SESSION_GAP_MS + 1), 100_000, Outcome.SKIPPED, 0) for i in range(6)],
    ],
    ids=["nothing", "one play", "one track again", "one-play sessions"],
)
def test_small_histories_give_the_replays_tables(plays) -> None:
    want = built(plays, rows_later=False)
    same_state(built(plays, rows_later=True), want)
    same_state(built(plays, rows_later=True, columns=True), want)


def test_a_skip_blind_history_gives_the_replays_tables() -> None:
    plays = history(1_500, 11)
    want = built(plays, rows_later=False, blind=True)
    same_state(built(plays, rows_later=True, blind=True), want)
    same_state(built(plays, rows_later=True, blind=True, columns=True), want)


def test_plays_counted_from_columns_are_the_plays_observed_one_by_one() -> None:
    """``replay``: all but the current session counted at once — a history whose plays
    are out of order in places, a track's first play in the current session, more than
    512 tracks (the recent ones kept), one long session."""
    plays = history(4_000, 2)
    plays[100], plays[101] = plays[101], plays[100]  # a clock that went back
    t = plays[-1].started_at + SESSION_GAP_MS + 1
    plays += [Play(N_TRACKS - 1 - i, t + i * MIN, 100_000, Outcome.SKIPPED, 0) for i in range(3)]
    # 700 tracks (the 512 played last kept as the recent ones), a session of 100 plays
    # at a time, then one long session
    wide = [
        Play(i % 700, T0 + i * MIN + (i // 100) * SESSION_GAP_MS, 50_000, Outcome.LISTENED, 0)
        for i in range(1_000)
    ]
    long = [Play(i % 9, T0 + i * MIN, 50_000, Outcome.LISTENED, 0) for i in range(300)]
    for case in (plays, wide, long, plays[:1]):
        want = built(case, rows_later=False)
        got = built(case, rows_later=True, columns=True)
        assert len(got.plays) == len(case)
        same_state(got, want)


def test_a_state_not_new_replays_play_by_play() -> None:
    plays = history(600, 4)
    want = built(plays, rows_later=False)
    state = F.HistoryState(catalogue(), rows_later=True)
    state.extend(plays[:10])
    state.replay(PlayLog(plays[10:]))
    state.pack_rows()
    same_state(state, want)


def test_plays_after_the_build_write_the_rows_as_after_the_replay() -> None:
    plays = history(2_000, 3)
    last = plays[1_799]
    plays[1_799] = Play(last.item, last.started_at, 200_000, Outcome.LISTENED, 0)
    got, want = built(plays[:1_500], rows_later=True), built(plays[:1_500], rows_later=False)
    for state in (got, want):
        state.extend(plays[1_500:1_800])  # the last session goes on, new ones start
        skip = Play(plays[1_799].item, plays[1_799].started_at, 9_000, Outcome.SKIPPED, 0)
        assert state.reclassify_last(skip)
    assert got.cooc.live  # rows came back as dicts
    same_state(got, want)
    for state in (got, want):
        state.extend(plays[1_800:])
        state.pack_rows()
    same_state(got, want)


def test_tables_too_large_for_one_sort_are_replayed_play_by_play(monkeypatch) -> None:
    plays = history(1_000, 5)
    want = built(plays, rows_later=False)
    asked = []

    def too_large(*args, **kwargs):
        asked.append(len(args[0]))
        return None

    monkeypatch.setattr(F, "replay_tables", too_large)
    got = built(plays, rows_later=True)
    assert asked == [len(plays)]
    same_state(got, want)


def test_a_group_holds_as_many_tracks_as_the_emissions_bits_allow(monkeypatch) -> None:
    """An emission holds its row's place in its group, its column and its place in the
    replay in 63 bits: a group holds fewer tracks the more tracks and plays there are;
    when not even one fits, the tables are replayed play by play."""
    plays = history(3_000, 9)
    want = built(plays, rows_later=False)
    shift = len(plays).bit_length() + (2 * F.SKNN_SPAN).bit_length()
    u = len({play.item for play in plays})
    for room in (u.bit_length(), u.bit_length() + 3, (u - 1).bit_length() - 1):
        # groups of 1, of 8–15 tracks, and none (replayed)
        monkeypatch.setattr(replay_rows, "_KEY_BITS", shift + room)
        same_state(built(plays, rows_later=True, columns=True), want)
    kw = dict(window=5, span=50, tau_ms=1.0, gap_ms=SESSION_GAP_MS)
    starts = np.arange(len(plays), dtype=np.int64)
    items = np.array([play.item for play in plays], dtype=np.int64)
    assert replay_tables(items, starts, 1.0, **kw) is None  # (the last _KEY_BITS)
    monkeypatch.setattr(replay_rows, "_KEY_BITS", 63)
    # two million tracks played once each, two a session (u² · plays would need 2⁷¹)
    big = np.arange(1 << 21, dtype=np.int64)
    pairs = (big // 2) * (SESSION_GAP_MS + 1)
    tables = replay_tables(big, pairs, 0.0, **{**kw, "tau_ms": 1e12})
    assert tables is not None
    trans, _window, cooc = tables
    assert len(trans) == len(big) // 2 and trans.value(4, 5) == 1.0 and 5 not in trans
    scale = math.exp(int(pairs[5]) / 1e12)
    assert cooc.value(4, 5) == scale and cooc.value(5, 4) == 0.5 * scale / 2


def test_a_session_starts_after_a_gap_longer_than_the_gap() -> None:
    starts = np.array([0, 10, 10 + 30, 10 + 30 + 31, 71, 50, 200], dtype=np.int64)
    np.testing.assert_array_equal(session_positions(starts, 30), [0, 1, 2, 0, 1, 2, 0])
    assert session_positions(np.array([], dtype=np.int64), 30).tolist() == []
