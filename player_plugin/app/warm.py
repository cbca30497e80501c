"""Warm start: the first suggestion after opening the player without recomputing every
track's item vector.

:func:`vectors_for` is asked while a serving state is built: when the warm-start file
(:mod:`player_plugin.store.warm`) was saved by this model for this library version, its
vectors serve as they are (no tag encoding, no item tower); for another library version
(a scan since) its vectors seed the engine, so only the tracks whose inputs changed go
through the tower. Whenever the vectors were (partly) computed, :func:`save_later` writes
them for the next start on a background thread, so the answer never waits for the disk.
A file that is missing, stale or broken costs only the computation it would have saved.

The serving state itself (the catalogue, the model's history state, the re-ranker's, and
what the serving cache remembers: see :mod:`player_plugin.app.suggest`) is the rest of
what a start costs: reading every track, replaying every play. :func:`save_state_later`
writes it (on a background thread that takes the serving entry's lock only to start and
to finish: the file is kept only if no suggestion ran while it was packed) and
:func:`state_for` gives it back when it was saved for this model, this library
version, this model registry and this code; the serving cache then observes only the
plays logged since, exactly as a long-running process would have (its usual checks: plays
deleted or rematched, a play in progress that ended otherwise, rebuild when needed).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import dataclasses
import functools
import hashlib
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sqlite_utils

import player_plugin
from player_plugin.app.warm_state import Unpackable, pack, restore_into, unpack
from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import PlayLog
from player_plugin.recommend.engine import Engine
from player_plugin.recommend.model import ModelRecommender
from player_plugin.recommend.rerank import Reranker
from player_plugin.store.models import db_file
from player_plugin.store.warm import (
    NpzWriter,
    WarmVectors,
    finish_state,
    library_version,
    read_state,
    read_vectors,
    state_writer,
    write_vectors,
)

log = logging.getLogger(__name__)

__all__ = [
    "code_version",
    "save_later",
    "save_state_later",
    "state_for",
    "vectors_for",
    "wait_saved",
]

EXIT_WAIT_S = 10.0  # at exit, how long writes still running may take (each)
QUIET_S = 1.0  # a state save waits until no suggestion came for this long
_pending: list[threading.Thread] = []
_pending_lock = threading.Lock()
_flushing = threading.Condition()  # wait_saved() calls so far (_flushes) end quiet waits
_flushes = 0
_at_exit = False


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
    return _start(_write, Path(path), engine.warm_key, warm)


def _start(target: Callable, *args: object) -> threading.Thread:
    global _at_exit
    thread = threading.Thread(target=target, args=args, name="segue-warm-start", daemon=True)
    with _pending_lock:
        _pending[:] = [t for t in _pending if t.is_alive()]
        _pending.append(thread)
        if not _at_exit:  # a short-lived process (`segue recommend`) finishes its writes
            atexit.register(wait_saved, EXIT_WAIT_S)
            _at_exit = True
    thread.start()
    return thread


def wait_saved(timeout: float | None = None) -> None:
    """Wait for the writes started so far (tests, benchmarks, a clean quit); a state
    save waiting for a quiet moment starts now."""
    global _flushes
    with _flushing:
        _flushes += 1
        _flushing.notify_all()
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


# -- the serving state --------------------------------------------------------------------
# A saved state is only as good as the code that replayed it: any change to the sources
# below (how plays are read and counted, the features, the re-ranker) makes it stale.
_CODE_FOLDERS = ("domain", "store", "recommend", "app")
# caches: rebuilt when needed
_TRANSIENT: dict[str, object] = {"_split": None, "_mirrors": {}, "_whole": None, "_work": None}
# arrays never written once made (a new catalogue replaces the old): packed uncopied
_SHARED = ("catalogue.", "history.artist", "history.album", "reranker.ties")


@functools.cache
def code_version() -> str:
    """A digest of this Segue's version and the sources a serving state depends on."""
    digest = hashlib.sha256(player_plugin.__version__.encode())
    root = Path(player_plugin.__file__).parent
    for folder in _CODE_FOLDERS:
        for path in sorted((root / folder).glob("*.py")):
            try:
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
            except OSError:
                digest.update(path.name.encode() + b"\0?")
    return digest.hexdigest()


def _state_values(fields: dict) -> tuple[str, dict, dict]:
    """(the model's warm key, meta, the values to pack) of a serving state's *fields*."""
    fields = dict(fields)
    rec, reranker, catalogue = fields.pop("rec"), fields.pop("reranker"), fields.pop("catalogue")
    fields.pop("index", None)
    if type(rec) is not ModelRecommender or rec.state is None or fields.get("method") is not None:
        raise Unpackable("only a model's state is saved")
    if rec.history != fields["plays"]:
        raise Unpackable("the model's history is not the state's plays")
    values: dict[str, object] = {}
    for f in dataclasses.fields(Catalogue):
        values[f"catalogue.{f.name}"] = getattr(catalogue, f.name)
    for name, value in vars(rec.state).items():
        values[f"history.{name}"] = _TRANSIENT.get(name, value)
    for name, value in vars(reranker).items():
        if name != "catalogue":
            values[f"reranker.{name}"] = value
    for name, value in fields.items():
        values[f"serving.{name}"] = value
    meta = {
        "library": library_version(fields["catalogue_mark"]),
        "models": library_version(fields["models_mark"]),
        "code": code_version(),
    }
    return rec.engine.warm_key, meta, values


def save_state_later(
    db: sqlite_utils.Database,
    lock: threading.Lock,
    fields: Callable[[], dict | None],
    generation: Callable[[], int],
) -> threading.Thread | None:
    """Write the serving state *fields()* gives (None: nothing to save) for the next
    start, on a background thread, once no suggestion has been asked for :data:`QUIET_S`
    (or :func:`wait_saved` is called, as at exit); None for an in-memory database.

    Packing a large state takes seconds of the interpreter (3.2 s at a million plays):
    started at once, it would slow the suggestions asked meanwhile — every call of a quick
    run of them, each 500 plays. *lock* (the serving entry's) is held only to take the
    values and, at the end, to see that *generation()*, which every suggestion moves, has
    not moved; when it moved, the state may have changed under the packing: the file is
    not kept, and the thread waits for the next quiet moment to try again."""
    path = db_file(db)
    if path is None or not str(path):
        return None
    with _flushing:
        asked = _flushes
    return _start(_write_state, Path(path), lock, fields, generation, asked)


def _write_state(
    db_path: Path,
    lock: threading.Lock,
    fields: Callable[[], dict | None],
    generation: Callable[[], int],
    asked: int,
) -> None:
    _wait_quiet(generation, asked)
    while not _try_write_state(db_path, lock, fields, generation):
        log.debug("warm-start state changed as it was saved: saved again when quiet")
        _wait_quiet(generation, asked)


def _wait_quiet(generation: Callable[[], int], asked: int) -> None:
    """Return once *generation()* has not moved for :data:`QUIET_S`, or at once when
    :func:`wait_saved` was called since the save was asked (the *asked*-th call)."""
    with _flushing:
        while True:
            seen = generation()
            if _flushing.wait_for(lambda: _flushes != asked, QUIET_S):
                return
            if generation() == seen:
                return


def _try_write_state(
    db_path: Path,
    lock: threading.Lock,
    fields: Callable[[], dict | None],
    generation: Callable[[], int],
) -> bool:
    """One try of :func:`_write_state`: False when a suggestion ran while it packed."""
    start = None
    try:
        with lock:  # the values to save, taken while no suggestion runs
            found = fields()
            if found is None:
                return True
            key, meta, values = _state_values(found)
            start = generation()
            found = None
        with state_writer(db_path, key) as out:  # packed and written without the lock
            described = _write_values(out, values, changing=True)
            described.update(_write_values(out, values, changing=False))
            meta["values"] = {name: described[name] for name in values}  # their order
            values = None  # type: ignore[assignment]
            with lock:  # every value packed is as it was at the start, or none is kept
                unchanged = generation() == start
            if not unchanged:
                raise _Changed
            written = finish_state(out, key, meta)
        log.debug("warm-start state written: %s", written)
    except Unpackable as exc:
        log.info("warm-start state not written: %s", exc)
    except Exception as exc:  # the next start builds the state, as without the file
        with lock:  # a suggestion ran meanwhile (a dict may have grown as it was read)?
            moved = start is not None and generation() != start
        if moved:
            return False
        log.warning("warm-start state not written (%s: %s)", type(exc).__name__, exc)
    finally:
        meta = values = found = None  # type: ignore[assignment]
        _give_back_memory()
    return True


class _Changed(Exception):
    """The serving state changed while it was being saved."""


def _write_values(out: NpzWriter, values: dict, *, changing: bool) -> dict:
    """Pack and write the *values* that change (*changing*) or those that never do, one
    value at a time: only one value's packed arrays are held at once (the peak of a
    save stays small); returns their descriptions (raises :class:`Unpackable`)."""
    described: dict = {}
    for name, value in values.items():
        if name.startswith(_SHARED) == changing:
            continue
        one, arrays = pack({name: value}, shared=() if changing else (name,))
        out.add(arrays)
        described.update(one)
        arrays = None  # type: ignore[assignment]
    return described


def _give_back_memory() -> None:
    """Return the memory a write freed to the system: without it glibc keeps most of the
    ~20 MB a 100,000-track state takes to pack and write, and the player stays that much
    bigger (a no-op where the C library is not glibc)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 (only glibc has it)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc() if sys.platform.startswith("linux") else None


def state_for(
    db: sqlite_utils.Database, engine: Engine, catalogue_mark: tuple, models_mark: tuple
) -> dict | None:
    """The serving state's fields (all but ``index``) saved for *engine*'s model at this
    library version, model registry and code, with the recommender and the re-ranker
    made again around *engine*; None when there is no such file (one log line when a file
    is there but stale or broken)."""
    found = read_state(db, engine.warm_key)
    if found is None:
        return None
    meta, arrays = found
    if (
        meta.get("library") != library_version(catalogue_mark)
        or meta.get("models") != library_version(models_mark)
        or meta.get("code") != code_version()
    ):
        log.info("warm-start state is for another library, model registry or code: rebuilt")
        return None
    try:
        values = unpack(meta["values"], arrays)
        groups: dict[str, dict] = {"catalogue": {}, "history": {}, "reranker": {}, "serving": {}}
        for name, value in values.items():
            group, _, attr = name.partition(".")
            groups[group][attr] = value
        catalogue = Catalogue(**groups["catalogue"])
        vectors = vectors_for(db, engine, catalogue, catalogue_mark)
        if vectors is None:
            log.info("warm-start state saved without its item vectors: rebuilt")
            return None
        serving = groups["serving"]
        if type(serving.get("plays")) is not PlayLog:
            raise ValueError("the served plays are not a play log")
        rec = ModelRecommender(engine)
        rec.fit([], catalogue, vectors=vectors)
        assert rec.state is not None
        restore_into(rec.state, groups["history"])
        rec.history = serving["plays"].copy()
        reranker = Reranker(catalogue, serving["rules"], follow=True)
        restore_into(reranker, groups["reranker"], keep=("catalogue",))
    except Exception as exc:  # a bad cache file is never an error: build as without it
        log.warning("warm-start state ignored (%s: %s)", type(exc).__name__, exc)
        return None
    return {
        **serving,
        "catalogue_mark": catalogue_mark,
        "models_mark": models_mark,
        "catalogue": catalogue,
        "rec": rec,
        "reranker": reranker,
    }
