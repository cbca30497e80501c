"""A recommender's history and the served plays as columns (:class:`PlayLog`): read and
written as the list of plays it replaces, and safe to copy while another thread appends."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from player_plugin.app.warm_state import pack, unpack
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play, PlayLog
from player_plugin.recommend.history_plays import HistoryPlays
from player_plugin.recommend.play_index import PlayIndex
from player_plugin.recommend.rerank import Reranker, RerankSettings


def random_plays(n: int, seed: int = 0) -> list[Play]:
    rng = np.random.default_rng(seed)
    starts = np.cumsum(rng.choice([60_000, 240_000, SESSION_GAP_MS + 1], n, p=[0.6, 0.3, 0.1]))
    outcomes = list(Outcome)
    return [
        Play(
            int(rng.integers(0, 50)),
            int(1_700_000_000_000 + s),
            int(rng.integers(0, 400_000)),
            outcomes[int(rng.integers(0, len(outcomes)))],
            int(rng.integers(0, 5)),
        )
        for s in starts
    ]


def old_session_start(plays: list[Play]) -> int:
    """Where ``Recommender.session`` started the session before (a walk over plays)."""
    start = len(plays) - 1
    while start > 0 and plays[start].started_at - plays[start - 1].started_at <= SESSION_GAP_MS:
        start -= 1
    return max(start, 0)


def test_a_play_log_reads_and_writes_as_the_list_of_plays() -> None:
    plays = random_plays(300)
    log, listed = PlayLog(plays[:100]), list(plays[:100])
    for play in plays[100:]:
        log.append(play)
        listed.append(play)
        assert log[-1] is play  # the last play is kept as it was given
        assert log.session_start() == old_session_start(listed)
    assert len(log) == len(listed) and log == listed and list(log) == listed
    for index in (0, 1, 150, -1, -2, -300):
        assert log[index] == listed[index]
    for part in (slice(None), slice(10, 20), slice(-25, -1), slice(None, None, 7), slice(5, 2)):
        assert log[part] == listed[part]
    with pytest.raises(IndexError):
        log[300]
    changed = Play(7, plays[-1].started_at, 1_000, Outcome.SKIPPED, 3)
    log[-1] = listed[-1] = changed
    log[5] = listed[5] = changed
    assert log == listed and log[-1] is changed
    assert log.pop() == listed.pop() and log == listed
    log.insert(3, changed)
    listed.insert(3, changed)
    del log[10:20]
    del listed[10:20]
    assert log == listed and log[-1] == listed[-1]
    log.extend(PlayLog(plays[:5]))
    listed.extend(plays[:5])
    assert log == listed and log != listed[:-1] and log.copy() == log
    with pytest.raises(TypeError):
        log[0:2] = plays[:2]
    odd = Play(1, 2, 3.5, Outcome.LISTENED)  # type: ignore[arg-type]  # no column holds it
    for write in (log.append, lambda p: log.insert(0, p), lambda p: log.__setitem__(-1, p)):
        with pytest.raises(TypeError):
            write(odd)
        assert log == listed and {len(c) for c in log.columns_view()} == {len(listed)}
    empty = PlayLog()
    assert not empty and empty.session_start() == 0 and list(empty) == [] and empty[:] == []


def test_play_log_columns_round_trip_and_bad_columns_are_refused() -> None:
    log = PlayLog(random_plays(200, seed=1))
    assert PlayLog.from_columns(*log.columns()) == log
    as_numpy = [np.frombuffer(c, dtype=c.typecode) for c in log.columns()]
    assert PlayLog.from_columns(*as_numpy) == log
    with pytest.raises(ValueError, match="different lengths"):
        PlayLog.from_columns(*as_numpy[:4], as_numpy[4][:-1])
    codes = as_numpy[3].copy()
    codes[7] = 0  # no Outcome has it
    with pytest.raises(ValueError, match="Outcome"):
        PlayLog.from_columns(*as_numpy[:3], codes, as_numpy[4])
    with pytest.raises(ValueError, match="not 5"):
        PlayLog.from_columns(*as_numpy[:4])
    described, arrays = pack({"plays": log})
    again = unpack(described, arrays)["plays"]
    assert type(again) is PlayLog and again == log


def test_the_play_index_reads_a_play_log_as_it_reads_a_list() -> None:
    plays = random_plays(500, seed=2)
    from_log, from_list = PlayIndex(), PlayIndex()
    log, listed = PlayLog(), []
    for k in range(0, 500, 37):
        log.extend(plays[k : k + 37])
        listed.extend(plays[k : k + 37])
        from_log.update(log)
        from_list.update(listed)
        for item in (0, 3, 49):
            for a, b in zip(from_log.track(item), from_list.track(item), strict=True):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["history", "served"])
def test_columns_copied_while_another_thread_appends_never_fail_it(kind) -> None:
    """The warm-start save copies a served history's columns without the serving lock
    while a suggestion may append a play: numpy copying from a column's buffer let go of
    the GIL and the append raised BufferError (an array lent out cannot grow)."""
    n = 2_000_000
    ones = np.ones(n, dtype=np.int64)
    if kind == "history":
        plays = HistoryPlays.from_columns(ones, ones, ones.astype(np.int8), ones.astype(np.int8))
        row: object = (1, 2, 1, True)
    else:
        plays = PlayLog.from_columns(ones, ones, ones, ones.astype(np.int8), ones)  # type: ignore[assignment]
        row = Play(1, 2)
    failed: list[BaseException] = []
    done = threading.Event()

    def append() -> None:
        while not done.is_set():
            try:
                plays.append(row)  # type: ignore[arg-type]
            except BaseException as exc:
                failed.append(exc)
                return

    thread = threading.Thread(target=append)
    thread.start()
    try:
        until = time.monotonic() + 0.5
        copies = 0
        while time.monotonic() < until and not failed:
            columns = plays.columns()
            copies += 1
        assert len(columns[0]) >= n
    finally:
        done.set()
        thread.join()
    assert not failed and copies > 2 and len(plays) > n


@pytest.mark.parametrize("follow", [True, False])
def test_a_reranker_fitted_on_a_play_log_is_the_one_fitted_on_the_list(follow) -> None:
    """``Reranker.fit`` reads a PlayLog's columns (a dial moved at a million plays made
    every play again): the same recent plays, skips, played tracks, time, last play and
    variety as from the list, whatever the settings."""
    from test_model_fixtures import synthetic_catalogue

    catalogue = synthetic_catalogue()
    rng = np.random.default_rng(3)
    plays = [
        Play(int(rng.integers(0, len(catalogue) // 4)), p.started_at, p.ms_played, p.outcome)
        for p in random_plays(6_000, seed=3)
    ]
    for settings in (RerankSettings(), RerankSettings(exclude_last=0, skip_limit=1)):
        a = Reranker(catalogue, settings, follow=follow).fit(plays)
        b = Reranker(catalogue, settings, follow=follow).fit(PlayLog(plays))
        assert a.recent == b.recent and a.last_two == b.last_two and a.now == b.now
        assert list(a.skips.items()) == list(b.skips.items()) and a.skips
        assert list(a.often.items()) == list(b.often.items()) and a.often
        np.testing.assert_array_equal(a.played, b.played)
        assert a.last == b.last and a.learned == b.learned
        if follow:
            for f in dataclasses.fields(a.variety):
                mine, theirs = getattr(a.variety, f.name), getattr(b.variety, f.name)
                assert np.array_equal(mine, theirs) if f.name == "seen" else mine == theirs
        assert a.profile == b.profile
