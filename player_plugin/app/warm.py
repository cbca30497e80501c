"""Warm start: the first suggestion after opening the player without recomputing every
track's item vector.

:func:`vectors_for` is asked while a serving state is built: when the warm-start file
(:mod:`player_plugin.store.warm`) was saved by this model for this library version, its
vectors serve as they are (no tag encoding, no item tower); for another library version
(a scan since) its vectors seed the engine, so only the tracks whose inputs changed go
through the tower. Whenever the vectors were (partly) computed, :func:`save_later` writes
them for the next start on a background thread, so the answer never waits for the disk.
A file that is missing, stale or broken costs only the computation it would have saved.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import sqlite_utils

from player_plugin.domain.catalogue import Catalogue
from player_plugin.recommend.engine import Engine
from player_plugin.store.models import db_file
from player_plugin.store.warm import WarmVectors, library_version, read_vectors, write_vectors

log = logging.getLogger(__name__)

__all__ = ["save_later", "vectors_for", "wait_saved"]

_pending: list[threading.Thread] = []
_pending_lock = threading.Lock()


def vectors_for(
    db: sqlite_utils.Database, engine: Engine, catalogue: Catalogue, mark: tuple
) -> np.ndarray | None:
    """The item vectors of *catalogue* from the warm-start file when it was saved for
    this model and library version *mark*; else None, after seeding *engine* with the
    file's vectors (those of unchanged tracks are then reused)."""
    found = read_vectors(db, engine.warm_key)
    if found is None:
        return None
    ids = np.asarray(catalogue.track_ids, dtype=np.int64)
    if (
        found.library == library_version(mark)
        and found.vectors.shape[1] == engine.dim
        and np.array_equal(found.track_ids, ids)
    ):
        engine.adopt(found.track_ids, found.keys, found.vectors)
        return found.vectors
    log.info("warm-start file is for another library version: reusing unchanged tracks")
    engine.adopt(found.track_ids, found.keys, found.vectors)
    return None


def save_later(
    db: sqlite_utils.Database, engine: Engine, catalogue: Catalogue, mark: tuple
) -> threading.Thread | None:
    """Write *catalogue*'s vectors (all cached in *engine* by now) for the next start, on
    a background thread; None for an in-memory database."""
    path = db_file(db)
    if path is None or not str(path):
        return None
    ids = np.asarray(catalogue.track_ids, dtype=np.int64).copy()
    keys, vectors = engine.cached(ids)
    warm = WarmVectors(ids, keys, vectors, library_version(mark))
    thread = threading.Thread(
        target=_write,
        args=(Path(path), engine.warm_key, warm),
        name="segue-warm-start",
        daemon=True,
    )
    with _pending_lock:
        _pending[:] = [t for t in _pending if t.is_alive()]
        _pending.append(thread)
    thread.start()
    return thread


def wait_saved(timeout: float | None = None) -> None:
    """Wait for the writes started so far (tests, benchmarks, a clean quit)."""
    with _pending_lock:
        threads = list(_pending)
    for thread in threads:
        thread.join(timeout)


def _write(db_path: Path, key: str, warm: WarmVectors) -> None:
    try:
        written = write_vectors(db_path, key, warm)
        log.debug("warm-start file written: %s", written)
    except Exception as exc:  # the next start computes the vectors, as without the file
        log.warning("warm-start file not written (%s: %s)", type(exc).__name__, exc)
