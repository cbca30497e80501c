"""Warm start: item vectors saved beside the database serve the next start unchanged.

Real stores, a real tiny model in onnxruntime, the real background writer. Every warm
answer equals the cold one (ids, order, scores, reasons) and the uncached one; a stale
file reuses only unchanged tracks; a corrupt or foreign file is ignored with a log line.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from test_model_fixtures import fill_store, register_active, trained_model

from player_plugin.app import warm
from player_plugin.app.suggest import CACHE, suggestions
from player_plugin.store import models as reg
from player_plugin.store.catalogue import HistoryTrack, insert_history_tracks
from player_plugin.store.warm import cache_folder, read_vectors

N = 8


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return trained_model(tmp_path_factory.mktemp("warm-models"))


def _answer(db, now: int) -> list[tuple]:
    found = suggestions(db, N, now_ms=now)
    assert found.method == "model" and len(found.items) == N
    return [(s.track_id, s.score, s.reason) for s in found.items]


def _restart() -> None:
    """What a new process starts with: no serving state in memory."""
    warm.wait_saved()
    CACHE.clear()


def _engine(db):
    entry = CACHE.entry(db)
    assert entry is not None and entry.state is not None
    return entry.state.engine


def _files(db) -> list:
    folder = cache_folder(db)
    return sorted(folder.glob("vectors-*.npz")) if folder.exists() else []


def test_the_second_start_reads_the_vectors_and_answers_the_same(db, model) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    now = plays[-1].started_at + 60_000
    CACHE.clear()
    cold = _answer(db, now)
    assert _engine(db).computed == 72  # every track through the item tower
    _restart()
    (path,) = _files(db)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    warm_answer = _answer(db, now)
    assert _engine(db).computed == 0  # nothing computed: the file served
    assert warm_answer == cold
    fresh = suggestions(db, N, now_ms=now, cached=False)
    assert [(s.track_id, s.score, s.reason) for s in fresh.items] == cold


def test_after_a_scan_only_changed_tracks_are_computed(db, model) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    now = plays[-1].started_at + 60_000
    CACHE.clear()
    _answer(db, now)
    _restart()
    insert_history_tracks(db, [HistoryTrack(b"/new.flac", "k", "Artist 1", "New", "Album 1", 1)])
    answer = _answer(db, now)
    assert _engine(db).computed == 1  # the new track only
    assert answer == [
        (s.track_id, s.score, s.reason) for s in suggestions(db, N, now_ms=now, cached=False).items
    ]
    _restart()  # the file was brought up to date in the background
    assert _answer(db, now) == answer and _engine(db).computed == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape"])
def test_a_broken_file_is_ignored_with_a_log_line(db, model, caplog, damage) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    now = plays[-1].started_at + 60_000
    CACHE.clear()
    cold = _answer(db, now)
    _restart()
    (path,) = _files(db)
    if damage == "garbage":
        path.write_bytes(b"not a numpy file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    else:
        with np.load(path) as data:
            arrays = dict(data)
        arrays["vectors"] = arrays["vectors"][:, :3]
        arrays["keys"] = arrays["keys"][:5]
        np.savez(path, **arrays)
    assert _answer(db, now) == cold
    assert _engine(db).computed == 72
    assert any(
        "warm-start file" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records
    )
    _restart()  # rewritten whole
    assert _answer(db, now) == cold and _engine(db).computed == 0


def test_another_model_never_reads_the_file(db, model, tmp_path) -> None:
    _cat, plays = fill_store(db, 200)
    register_active(db, model)
    now = plays[-1].started_at + 60_000
    CACHE.clear()
    _answer(db, now)
    _restart()
    other = trained_model(tmp_path / "other", n_plays=200)
    register_active(db, other, "m2")
    _answer(db, now)
    assert _engine(db).computed == 72  # its own vectors, not m1's
    _restart()
    assert len(_files(db)) == 2
    assert read_vectors(db, _engine_key(db, "m1")) is not None


def _engine_key(db, model_id: str) -> str:
    from player_plugin.recommend.engine import Engine

    return Engine(reg.models_root(db) / model_id).warm_key
