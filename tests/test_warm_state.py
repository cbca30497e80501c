"""Warm start of the whole serving state: the next start reads the catalogue, the model's
history state and the re-ranker's from the file beside the database, observes only the
plays logged since, and answers exactly as a cold build does.

Real stores, a real tiny model in onnxruntime, the real background writer. Every warm
answer is compared (ids, order, scores, reasons) with the uncached path and with a cold
build in a fresh cache; a stale, foreign or broken state file is ignored with one log
line and rewritten.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import subprocess
import sys
import time
from collections import OrderedDict, defaultdict, deque
from pathlib import Path

import numpy as np
import pytest
from test_model_fixtures import fill_store, register_active, trained_model

from player_plugin.app import suggest, warm
from player_plugin.app.suggest import CACHE, suggestions
from player_plugin.app.warm_state import Unpackable, pack, restore_into, unpack
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play, plays_from_columns
from player_plugin.recommend.features import HistoryCode, HistoryState
from player_plugin.recommend.sparse_rows import SparseRows
from player_plugin.store import open_db
from player_plugin.store.catalogue import HistoryTrack, insert_history_tracks
from player_plugin.store.plays import delete_plays, log_play, start_play
from player_plugin.store.warm import cache_folder

N = 8
MIN = 60_000


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return trained_model(tmp_path_factory.mktemp("warm-state-models"))


def _answer(db, now: int, **kw) -> list[tuple]:
    found = suggestions(db, N, now_ms=now, **kw)
    assert found.method == "model" and len(found.items) == N
    return [(s.track_id, s.score, s.reason) for s in found.items]


def _restart() -> None:
    """What a new process starts with: the files written, no serving state in memory."""
    warm.wait_saved()
    CACHE.clear()


def _state_files(db) -> list:
    folder = cache_folder(db)
    return sorted(folder.glob("state-*.npz")) if folder.exists() else []


def _cold(db, now: int) -> list[tuple]:
    """A cold build in a fresh cache, the state file out of the way."""
    hidden = [(p, p.with_suffix(".away")) for p in _state_files(db)]
    for path, away in hidden:
        path.rename(away)
    CACHE.clear()
    try:
        answer = _answer(db, now)
        assert CACHE.entry(db).warm == 0
    finally:
        warm.wait_saved()
        CACHE.clear()
        for path, away in hidden:
            away.replace(path)
    return answer


def _track_ids(db) -> list[int]:
    return [int(r[0]) for r in db.execute("SELECT id FROM tracks ORDER BY id")]


def test_a_warm_start_observes_the_plays_since_and_answers_as_a_cold_build(db, model) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    ids = _track_ids(db)
    now = plays[-1].started_at + 5 * MIN
    CACHE.clear()
    first = _answer(db, now)
    assert CACHE.entry(db).rebuilds == 1
    _restart()
    (path,) = _state_files(db)
    assert path.stat().st_mode & 0o777 == 0o600

    # unchanged store: the saved state serves as it is
    assert _answer(db, now) == first
    entry = CACHE.entry(db)
    assert (entry.warm, entry.rebuilds, entry.observed) == (1, 0, 0)
    _restart()

    # plays logged after the state was saved (one skipped, one in progress): observed only
    log_play(db, ids[5], started_at=now, ms_played=200_000, reason="completed")
    log_play(db, ids[40], started_at=now + 4 * MIN, ms_played=10_000, reason="skipped")
    start_play(db, ids[7], at_ms=now + 5 * MIN)
    later = now + 6 * MIN
    answer = _answer(db, later)
    entry = CACHE.entry(db)
    assert (entry.warm, entry.rebuilds, entry.observed) == (1, 0, 3)
    assert answer == _answer(db, later, cached=False)
    assert answer == _cold(db, later)
    assert answer != first  # the new plays changed the list


def test_a_play_deleted_since_the_state_was_saved_rebuilds(db, model) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    now = plays[-1].started_at + 5 * MIN
    CACHE.clear()
    _answer(db, now)
    _restart()
    delete_plays(db, start_ms=plays[-3].started_at)
    answer = _answer(db, now)
    entry = CACHE.entry(db)
    assert (entry.warm, entry.rebuilds) == (1, 1)
    assert entry.last_reason == "observed plays were deleted or rematched"
    assert answer == _answer(db, now, cached=False) == _cold(db, now)


def test_a_state_for_another_library_version_is_not_used(db, model, caplog) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    now = plays[-1].started_at + 5 * MIN
    CACHE.clear()
    _answer(db, now)
    _restart()
    insert_history_tracks(db, [HistoryTrack(b"/new.flac", "k", "Artist 1", "New", "Album 1", 1)])
    caplog.set_level("INFO")
    answer = _answer(db, now)
    assert (CACHE.entry(db).warm, CACHE.entry(db).rebuilds) == (0, 1)
    assert any("another library" in r.getMessage() for r in caplog.records)
    assert answer == _answer(db, now, cached=False)
    _restart()  # rewritten for the new library version
    assert _answer(db, now) == answer and CACHE.entry(db).warm == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "edited", "plays as a list"])
def test_a_broken_state_file_is_ignored_with_one_log_line(db, model, caplog, damage) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    now = plays[-1].started_at + 5 * MIN
    CACHE.clear()
    cold = _answer(db, now)
    _restart()
    (path,) = _state_files(db)
    if damage == "garbage":
        path.write_bytes(b"not a numpy file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
    else:  # a well-formed file whose arrays do not fit what it says, or of another kind
        with np.load(path) as data:
            arrays = dict(data)
        meta = json.loads(str(arrays["meta"]))
        if damage == "edited":
            arrays["history.count"] = arrays["history.count"][:5]
        else:
            assert meta["values"]["serving.plays"]["k"] == "playlog"
            meta["values"]["serving.plays"] = {"k": "list", "v": None}
        arrays["meta"] = np.array(json.dumps(meta))
        np.savez(path, **arrays)
    caplog.clear()
    assert _answer(db, now) == cold
    assert (CACHE.entry(db).warm, CACHE.entry(db).rebuilds) == (0, 1)
    lines = [r for r in caplog.records if "warm-start state" in r.getMessage()]
    assert len(lines) == 1 and "ignored" in lines[0].getMessage()
    _restart()  # rewritten whole
    assert _answer(db, now) == cold and CACHE.entry(db).warm == 1


def test_the_state_is_saved_again_after_enough_new_plays(db, model, monkeypatch) -> None:
    monkeypatch.setattr(suggest, "SAVE_EVERY", 20)
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    ids = _track_ids(db)
    now = plays[-1].started_at + 5 * MIN
    CACHE.clear()
    _answer(db, now)
    warm.wait_saved()
    (path,) = _state_files(db)
    written = path.stat().st_mtime_ns
    for k in range(suggest.SAVE_EVERY - 1):
        log_play(db, ids[k % 30], started_at=now + k * 4 * MIN, ms_played=200_000)
    later = now + suggest.SAVE_EVERY * 4 * MIN
    answer = _answer(db, later - MIN)  # one play short: not saved yet
    warm.wait_saved()
    assert path.stat().st_mtime_ns == written
    log_play(db, ids[3], started_at=later, ms_played=200_000)
    answer = _answer(db, later + 5 * MIN)
    warm.wait_saved()
    assert path.stat().st_mtime_ns != written
    CACHE.clear()
    assert _answer(db, later + 5 * MIN) == answer
    assert (CACHE.entry(db).warm, CACHE.entry(db).observed) == (1, 0)


def test_segue_recommend_finishes_its_writes_before_it_exits(db, db_path, model) -> None:
    fill_store(db, 200)
    register_active(db, model)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    cli = "import sys; from player_plugin.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", cli, "--db", str(db_path), "recommend"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    folder = cache_folder(db)
    assert len(list(folder.glob("state-*.npz"))) == 1
    assert len(list(folder.glob("vectors-*.npz"))) == 1


# -- the packing itself -------------------------------------------------------------------
def _same(a, b) -> None:
    """Equal values of the same types, arrays bit for bit, dicts in the same order."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
        if isinstance(a, defaultdict):
            assert a.default_factory is b.default_factory
    elif isinstance(a, (list, tuple, deque)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
        if isinstance(a, deque):
            assert a.maxlen == b.maxlen
    elif isinstance(a, (set, frozenset)):
        assert a == b
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    elif dataclasses.is_dataclass(a):  # field by field (a field may be an array)
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name))
    else:
        assert a == b


def test_packed_values_come_back_equal_and_of_the_same_types() -> None:
    sparse = np.zeros(5000)
    sparse[[3, 99]] = [-0.0, np.nan]
    sparse[4000] = -np.inf
    values = {
        "none": None,
        "int": 7,
        "float": -math.inf,
        "nan": math.nan,
        "flag": True,
        "outcome": Outcome.SKIPPED,
        "code": HistoryCode.BROWSING,
        "np": np.float64(2.5),
        "dense": np.arange(12, dtype=np.int32).reshape(3, 4),
        "sparse": sparse,
        "bools": np.zeros(3000, dtype=bool),
        "counts": {5: 1, 2: 3},
        "rows": {9: {1: 0.5, 0: 1.5}, 4: {}, 2: {7: 2.0}},
        "lists": defaultdict(list, {3: [10, 20], 1: []}),
        "empty": {},
        "recent": deque([4, 2, 9], maxlen=10),
        "ordered": OrderedDict.fromkeys([5, 1, 3]),
        "often": {7, 3, 1000},
        "frozen": frozenset([2]),
        "no set": set(),
        "plays": [Play(1, 10, 5, Outcome.LISTENED, 0), Play(2, 20, 0, Outcome.ERROR, 1)],
        "tuples": [(1, 10, HistoryCode.LISTENED, True), (2, 11, HistoryCode.SKIPPED, False)],
        "titles": ["a", "b\x00c", "\udcff", ""],
        "paths": [b"/a", b"/b\xff", b""],
        "last": (Play(3, 30, 1, Outcome.SKIPPED, 2), None),
        "nothing": [],
    }
    described, arrays = pack(values)
    again = unpack(json.loads(json.dumps(described)), arrays)
    assert list(again) == list(values)
    for name in values:
        _same(values[name], again[name])


def test_sparse_rows_come_back_packed_and_a_file_whose_rows_do_not_fit_is_refused() -> None:
    rows = SparseRows()
    rows.row(4).update({1: 0.5, 9: 2.0, 3: -1.0})
    rows.row(2)[3] = 1.0
    rows.pack([2])
    rows.row(7)  # a row made and never written
    described, arrays = pack({"rows": rows})
    again = unpack(json.loads(json.dumps(described)), arrays)["rows"]
    assert type(again) is SparseRows and again == rows and not again.live
    assert list(again) == [4, 7, 2] and list(again[4].items()) == [(1, 0.5), (9, 2.0), (3, -1.0)]
    arrays["rows.n"] = arrays["rows.n"] + 1
    with pytest.raises(ValueError, match="do not fit"):
        unpack(described, arrays)
    arrays["rows.c"] = arrays["rows.c"].astype(np.int64)
    with pytest.raises(ValueError, match="not sparse rows"):
        unpack(described, arrays)


def test_plays_made_from_columns_are_the_plays_init_makes() -> None:
    rows = [(1, 10, 5, Outcome.LISTENED, 0), (7, 2**40, 0, Outcome.SKIPPED, 3)]
    made = plays_from_columns(*zip(*rows, strict=True))
    assert made == [Play(*row) for row in rows]
    assert [hash(p) for p in made] == [hash(Play(*row)) for row in rows]
    assert [repr(p) for p in made] == [repr(Play(*row)) for row in rows]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].item = 2  # type: ignore[misc]
    with pytest.raises(ValueError):  # columns of different lengths
        plays_from_columns([1], [2], [3], [Outcome.LISTENED], [])
    # a file whose plays' outcomes are not an Outcome column is refused, not half-read
    described, arrays = pack({"plays": [Play(*row) for row in rows]})
    outcomes = described["plays"]["v"][3]
    outcomes["t"] = "int"
    with pytest.raises(ValueError):
        unpack(described, arrays)


def test_unpacking_gives_the_cycle_collector_back_as_it_was() -> None:
    described, arrays = pack({"plays": [Play(1, 10, 5, Outcome.LISTENED, 0)]})
    assert gc.isenabled()
    assert unpack(described, arrays)["plays"] == [Play(1, 10, 5, Outcome.LISTENED, 0)]
    assert gc.isenabled()
    with pytest.raises(KeyError):  # a broken file: still given back
        unpack(described, {})
    assert gc.isenabled()
    gc.disable()
    try:
        unpack(described, arrays)
        assert not gc.isenabled()  # paused by someone else: left paused
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "value",
    [object(), {1, 2.0}, [1, 2.0], {1: 1, 2: 2.0}, [(1,), (1, 2)], np.array([None, 1])],
)
def test_a_value_of_another_kind_is_not_packed(value) -> None:
    with pytest.raises(Unpackable):
        pack({"x": value})


def test_a_history_state_round_trips_and_refuses_other_code() -> None:
    from test_model_fixtures import synthetic_catalogue, synthetic_plays

    cat = synthetic_catalogue()
    state = HistoryState(cat)
    state.extend(synthetic_plays(150))
    state.cold_split()
    state.item_features()  # its caches made, as serving makes them
    # caches are saved as the warm start saves them (empty: rebuilt when needed)
    values = {k: warm._TRANSIENT.get(k, v) for k, v in vars(state).items()}
    assert set(warm._TRANSIENT) <= set(values)
    described, arrays = pack(values)
    fresh = HistoryState(cat)
    restore_into(fresh, unpack(described, arrays))
    for name, value in values.items():
        _same(value, getattr(fresh, name))
    np.testing.assert_array_equal(fresh.item_features(), state.item_features())
    values.pop("count")
    with pytest.raises(ValueError, match="other code"):
        restore_into(HistoryState(cat), unpack(*pack(values)))


def test_a_save_waits_for_a_quiet_moment_unless_someone_waits_for_it(
    db, model, monkeypatch
) -> None:
    """The state is packed once suggestions pause (not beside the next ones), and at once
    when the saves are waited for (a quit, the end of `segue recommend`)."""
    _cat, plays = fill_store(db, 120)
    register_active(db, model)
    now = plays[-1].started_at + 5 * MIN
    monkeypatch.setattr(warm, "QUIET_S", 60.0)
    CACHE.clear()
    _answer(db, now)
    time.sleep(0.5)
    assert _state_files(db) == []  # still waiting for a pause
    started = time.monotonic()
    warm.wait_saved()
    assert time.monotonic() - started < 30 and len(_state_files(db)) == 1


def test_a_save_packs_without_the_lock_and_is_dropped_when_a_suggestion_ran_meanwhile(
    db, db_path, model, monkeypatch
) -> None:
    """Packing a large state takes seconds (3.2 s at a million plays): the serving lock is
    free meanwhile, so a suggestion does not wait for it. A suggestion that ran meanwhile
    may have changed what was being packed: that file is not kept, and the save tries
    again only once suggestions stop for a while (asked back to back, each would spoil
    the next try: packing without end, every call slowed); the state read back at a start
    answers as a cold build."""
    warm.wait_saved()  # saves other tests left waiting would run the packing patched below
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    ids = _track_ids(db)
    now = plays[-1].started_at + 5 * MIN
    monkeypatch.setattr(warm, "QUIET_S", 1.0)  # (a loaded machine: far above a call)
    CACHE.clear()
    entry = CACHE.entry(db)
    assert entry is not None
    held: list[bool] = []
    tries: list[float] = []
    interleaved: list[int] = []
    write_values = warm._write_values

    def packing(out, values, *, changing):
        if changing:  # each try starts with these
            held.append(entry.lock.locked())
            tries.append(time.monotonic())
        if changing and not interleaved and not held[-1]:  # a track change meanwhile
            other = open_db(db_path)  # (the player asks from its own threads)
            try:
                log_play(other, ids[7], started_at=now + 2 * MIN, ms_played=200_000)
                interleaved.append(len(_answer(other, now + 6 * MIN)))
            finally:
                other.close()
        return write_values(out, values, changing=changing)

    monkeypatch.setattr(warm, "_write_values", packing)
    _answer(db, now)
    asked = time.monotonic()

    def until(done) -> None:
        deadline = time.monotonic() + 60
        while not done() and time.monotonic() < deadline:
            time.sleep(0.01)

    until(lambda: interleaved)  # the first try ran, a suggestion answered inside it
    assert tries[0] - asked >= 0.9  # not at once: once quiet
    assert interleaved == [N] and held == [False]  # answered while it packed
    asked_until = time.monotonic() + 2.0
    while time.monotonic() < asked_until:  # suggestions every 0.1 s: not quiet yet
        answer = _answer(db, now + 7 * MIN)
        time.sleep(0.1)
    assert len(tries) == 1 and _state_files(db) == []  # not kept, not tried again yet
    until(lambda: len(tries) == 2)  # quiet now: tried again
    assert tries[1] - asked_until >= 0.9
    warm.wait_saved()
    assert len(tries) == 2 and len(_state_files(db)) == 1  # and kept
    CACHE.clear()
    assert _answer(db, now + 7 * MIN) == answer == _cold(db, now + 7 * MIN)
    assert CACHE.entry(db).warm == 0  # (_cold's fresh cache)
