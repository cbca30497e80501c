"""The warm-start files written array by array hold exactly what ``np.savez`` of the same
arrays held, and a serving state saved one value at a time is the state packed whole.

Real files, a real tiny model in onnxruntime, the real serving cache and background
writer. Each ``.npy`` member is compared byte for byte with numpy's own; the streamed
state's descriptions and arrays with one ``pack`` of the whole state (the code the
streamed save replaced).
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from test_model_fixtures import fill_store, register_active, trained_model

from player_plugin.app import warm
from player_plugin.app.suggest import CACHE, _saved_fields, suggestions
from player_plugin.app.warm_state import pack
from player_plugin.store.warm import NpzWriter, read_state, state_path


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "ints": rng.integers(-(2**40), 2**40, 1000),
        "keys": rng.integers(0, 2**63, 257, dtype=np.uint64),
        "vectors": rng.standard_normal((300, 64)).astype(np.float32),
        "flags": rng.random(77) < 0.5,
        "empty": np.zeros(0, np.uint8),
        "text": np.frombuffer("Für Elise\x00Ünïcode".encode(), np.uint8),
        "big": rng.standard_normal(NpzWriter.CHUNK // 8 * 3 + 5),  # three chunks and a bit
        "scalar": np.array(7, np.int64),
    }


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_each_array_is_written_as_numpy_writes_it(tmp_path) -> None:
    arrays = _arrays()
    meta = {"format": 1, "model": "m", "library": "[1, 2]"}
    theirs = tmp_path / "numpy.npz"
    np.savez(theirs, meta=np.array(json.dumps(meta)), **arrays)
    with NpzWriter(tmp_path / "segue.db", "ours.npz") as out:
        for name, array in arrays.items():  # one at a time, as a state is saved
            out.add({name: array})
        path = out.finish(meta)
    assert path == tmp_path / "cache" / "ours.npz"
    assert _members(path) == _members(theirs)
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["meta"])) == meta
        for name, array in arrays.items():
            assert data[name].dtype == array.dtype and np.array_equal(data[name], array)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["ours.npz"]  # no leftovers


def test_a_fortran_ordered_array_reads_back_the_same(tmp_path) -> None:
    array = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    with NpzWriter(tmp_path / "segue.db", "f.npz") as out:
        out.add({"f": array})
        path = out.finish({})
    with np.load(path, allow_pickle=False) as data:
        assert np.array_equal(data["f"], array)


def test_an_unfinished_file_leaves_nothing_and_a_name_is_written_once(tmp_path) -> None:
    with pytest.raises(ValueError, match="twice"), NpzWriter(tmp_path / "db", "x.npz") as out:
        out.add({"a": np.arange(3)})
        out.add({"a": np.arange(3)})
    assert list((tmp_path / "cache").iterdir()) == []
    with pytest.raises(ValueError, match="objects"), NpzWriter(tmp_path / "db", "x.npz") as out:
        out.add({"o": np.array([object()])})
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return trained_model(tmp_path_factory.mktemp("stream-models"))


def test_the_state_saved_value_by_value_is_the_state_packed_whole(db, model) -> None:
    _cat, plays = fill_store(db, 300)
    register_active(db, model)
    now = plays[-1].started_at + 60_000
    CACHE.clear()
    suggestions(db, 8, now_ms=now)
    warm.wait_saved()
    entry = CACHE.entry(db)
    assert entry is not None
    with entry.lock:
        key, meta, values = warm._state_values(_saved_fields(entry))
        shared = [n for n in values if n.startswith(warm._SHARED)]
        meta["values"], whole = pack(values, shared=shared)  # the replaced code: one pack
    assert shared and len(shared) < len(values)  # both kinds are written
    path = state_path(db, key)
    assert path is not None
    path.unlink()
    warm.save_state_later(db, entry.lock, lambda: _saved_fields(entry), lambda: entry.generation)
    warm.wait_saved()
    found = read_state(db, key)
    assert found is not None
    saved_meta, arrays = found
    assert saved_meta == {**meta, "format": saved_meta["format"], "model": key}
    assert list(saved_meta["values"]) == list(values)  # in the state's order
    assert sorted(arrays) == sorted(whole)
    for name, array in whole.items():
        assert arrays[name].dtype == array.dtype
        assert arrays[name].tobytes() == np.ascontiguousarray(array).tobytes(), name
    CACHE.clear()  # a new process: the streamed file serves, answering as the cold state
    warm_answer = suggestions(db, 8, now_ms=now)
    fresh = suggestions(db, 8, now_ms=now, cached=False)
    assert [(s.track_id, s.score) for s in warm_answer.items] == [
        (s.track_id, s.score) for s in fresh.items
    ]
