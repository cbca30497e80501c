"""Examples built in chunks (the later one in a forked process) are the examples of one
pass over the history, except for the random negatives each chunk draws from its own seed;
side by side or one after the other gives the same arrays."""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import threading
import time

import numpy as np
import pytest
from test_model_fixtures import synthetic_catalogue, synthetic_plays

from training import chunks
from training.config import Config
from training.data import Cancelled, build_examples

KW = {"blind": False, "negatives": 12, "hard_share": 0.5, "other_weight": 1.0}


def test_chunks_cover_every_target_and_depend_only_on_the_history_length() -> None:
    assert chunks.chunk_starts(100) == [1, 100]  # small: one chunk
    starts = chunks.chunk_starts(50_001)
    assert starts[0] == 1 and starts[-1] == 50_001 and len(starts) == chunks.CHUNKS + 1
    assert all(a < b for a, b in itertools.pairwise(starts))


def test_a_long_history_trains_on_its_newest_plays_each_as_in_a_whole_pass(monkeypatch) -> None:
    """Memory and time grow with the targets (3.3 GB at 200,000 plays): at most
    ``max_targets`` of the newest plays are targets, the plays before them only build the
    history the first one starts from — so each target's history, session and features
    are those of a pass over every play. A history under the cap trains as before."""
    monkeypatch.setattr(chunks, "MIN_PLAYS", 50)
    cat, plays = synthetic_catalogue(), synthetic_plays(300)
    cfg = Config(negatives=12, hard_share=0.5, max_targets=100)
    capped = chunks.training_examples(plays, cat, cfg)
    every = chunks.training_examples(plays, cat, dataclasses.replace(cfg, max_targets=0))
    newest = every.times >= plays[200].started_at
    assert len(capped) == int(newest.sum()) == 100 and len(every) == 299
    same = ("hist_items", "hist_outcome", "hist_gap", "context", "times", "weight", "listened")
    for name in same:
        np.testing.assert_array_equal(getattr(capped, name), getattr(every, name)[newest])
    np.testing.assert_array_equal(capped.cand_items[:, 0], every.cand_items[newest, 0])
    np.testing.assert_array_equal(capped.cand_feat[:, 0], every.cand_feat[newest, 0])
    under = chunks.training_examples(plays, cat, dataclasses.replace(cfg, max_targets=299))
    for name in every.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(under, name), getattr(every, name), err_msg=name)
    assert chunks.chunk_starts(300, 200) == [200, 250, 300]  # the targets cut in two
    assert chunks.first_target(300, 0) == chunks.first_target(300, 500) == 1


def test_chunked_examples_equal_one_pass_but_for_the_drawn_negatives(monkeypatch) -> None:
    monkeypatch.setattr(chunks, "MIN_PLAYS", 100)
    cat, plays = synthetic_catalogue(), synthetic_plays(300)
    whole = build_examples(plays, cat, seed=3, **KW)
    side = chunks.build_chunked(plays, cat, seed=3, parallel=True, **KW)
    serial = chunks.build_chunked(plays, cat, seed=3, parallel=False, **KW)
    for name in whole.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(side, name), getattr(serial, name), err_msg=name)
    same = ("hist_items", "hist_outcome", "hist_gap", "context", "times", "weight", "listened")
    for name in same:
        np.testing.assert_array_equal(getattr(side, name), getattr(whole, name), err_msg=name)
    np.testing.assert_array_equal(side.cand_items[:, 0], whole.cand_items[:, 0])
    np.testing.assert_array_equal(side.cand_feat[:, 0], whole.cand_feat[:, 0])
    first = chunks.chunk_starts(len(plays))[1]
    n_first = int(np.searchsorted(whole.times, plays[first].started_at))
    # the first chunk is exactly one pass over its plays; the second drew other negatives
    np.testing.assert_array_equal(side.cand_items[:n_first], whole.cand_items[:n_first])
    assert not np.array_equal(side.cand_items[n_first:], whole.cand_items[n_first:])


@pytest.mark.parametrize("parallel", [True, False])
def test_the_waiting_hook_runs_once_and_changes_nothing(monkeypatch, parallel) -> None:
    """The trainer loads the exporter while the later chunk is still being built."""
    monkeypatch.setattr(chunks, "MIN_PLAYS", 100)
    cat, plays = synthetic_catalogue(), synthetic_plays(300)
    calls: list[bool] = []
    hooked = chunks.build_chunked(
        plays, cat, seed=3, parallel=parallel, while_waiting=lambda: calls.append(True), **KW
    )
    plain = chunks.build_chunked(plays, cat, seed=3, parallel=parallel, **KW)
    assert calls == [True]
    for name in plain.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(hooked, name), getattr(plain, name), err_msg=name)


def test_a_cancelled_or_failing_chunk_stops_the_build(monkeypatch) -> None:
    monkeypatch.setattr(chunks, "MIN_PLAYS", 100)
    cat, plays = synthetic_catalogue(), synthetic_plays(300)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        chunks.build_chunked(plays, cat, seed=3, cancel=cancel, **KW)

    def later_chunks_fail(plays, catalogue, *, first_target, **kw):
        if first_target > 1:  # in the forked child
            raise ValueError("a broken chunk")
        return build_examples(plays, catalogue, first_target=first_target, **kw)

    monkeypatch.setattr(chunks, "build_examples", later_chunks_fail)
    with pytest.raises(RuntimeError, match="building examples failed: ValueError: a broken"):
        chunks.build_chunked(plays, cat, seed=3, **KW)


def test_a_chunk_cut_short_is_one_clear_error(monkeypatch) -> None:
    """A child's arrays come as bytes after their shapes: a child gone in between (killed,
    out of memory) fails the build with one line, never a half-filled array."""
    monkeypatch.setattr(chunks, "MIN_PLAYS", 100)
    cat, plays = synthetic_catalogue(), synthetic_plays(300)
    parent, raw = os.getpid(), chunks._raw

    def dies_in_the_child(a):
        if os.getpid() != parent:
            os._exit(9)
        return raw(a)

    monkeypatch.setattr(chunks, "_raw", dies_in_the_child)
    with pytest.raises(RuntimeError, match=r"building examples failed \(cut short\)"):
        chunks.build_chunked(plays, cat, seed=3, **KW)


def _slow_later_chunks(plays, catalogue, *, first_target, **kw):
    """build_examples, a minute late in a forked child (a later chunk)."""
    if first_target > 1:  # in the forked child
        time.sleep(60)
    return build_examples(plays, catalogue, first_target=first_target, **kw)


def test_a_cancelled_build_ends_a_child_that_ignores_sigterm(monkeypatch) -> None:
    """The trainer catches SIGTERM (to cancel cleanly) and a forked child inherits that:
    cancelling must still end the child at once, not wait for its chunk."""
    monkeypatch.setattr(chunks, "MIN_PLAYS", 100)
    cat, plays = synthetic_catalogue(), synthetic_plays(300)

    monkeypatch.setattr(chunks, "build_examples", _slow_later_chunks)
    before = signal.signal(signal.SIGTERM, lambda *_: None)  # as the trainer: no exit
    try:
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            chunks.build_chunked(plays, cat, seed=3, cancel=cancel, **KW)
        assert time.monotonic() - started < 20
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_failing_wait_ends_the_children_and_the_receiving_thread(monkeypatch) -> None:
    """The children's chunks are received on a thread while the trainer loads what it
    needs: when that load fails, its error comes out at once — the child still building
    is ended, and no receiving thread is left behind."""
    monkeypatch.setattr(chunks, "MIN_PLAYS", 100)
    cat, plays = synthetic_catalogue(), synthetic_plays(300)

    def load_fails() -> None:
        assert any(t.name.startswith("examples") for t in threading.enumerate())
        raise ImportError("a broken install")

    monkeypatch.setattr(chunks, "build_examples", _slow_later_chunks)
    started = time.monotonic()
    with pytest.raises(ImportError, match="a broken install"):
        chunks.build_chunked(plays, cat, seed=3, while_waiting=load_fails, **KW)
    assert time.monotonic() - started < 20
    assert not any(t.name.startswith("examples") for t in threading.enumerate())
