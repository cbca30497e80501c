"""The warm-start files: item vectors and the serving state kept beside the database.

Computing every track's vector with the item tower is most of what opening the player
costs on a large library (encoding 100,000 tracks' tags, then the tower). The vectors a
model gave are saved to ``<database folder>/cache/vectors-<key>.npz``, where the key
digests the model (its id and its item tower's checksum), the feature schema and this
Segue's version; the file also records the library's version (the catalogue mark of
:mod:`player_plugin.store.serving`) and, per track, a digest of the inputs its vector was
computed from. A file for another model is never read (another key); one for another
library version still serves the tracks whose inputs did not change.

The file is numpy's ``.npz`` read with ``allow_pickle=False`` (plain arrays, no code).
A file that cannot be read, or does not hold what this module writes, is ignored with
one log line (the vectors are then computed as without it), never an error. The folder
is private like the database's (0700) and the file is the owner's only (0600); it is
written to a temporary name and renamed, so a reader never sees half a file.

The second file, ``state-<key>.npz``, holds a whole serving state (the catalogue, the
history replayed into the model's state, the re-ranker's) as arrays written by
:mod:`player_plugin.app.warm_state`, with the marks it was built at in ``meta``: loading
it replaces reading 100,000 tracks and replaying every play (see
:mod:`player_plugin.app.warm`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from player_plugin.store.models import db_file

log = logging.getLogger(__name__)

__all__ = [
    "FORMAT",
    "NpzWriter",
    "WarmVectors",
    "cache_folder",
    "finish_state",
    "read_state",
    "read_vectors",
    "state_path",
    "state_writer",
    "vectors_path",
    "write_state",
    "write_vectors",
]

FORMAT = 1
STATE_FORMAT = 1
FOLDER = "cache"


@dataclass
class WarmVectors:
    """Item vectors as saved: ``vectors[i]`` is track ``track_ids[i]``'s, computed from
    inputs whose digest is ``keys[i]``, when the library's version was ``library``."""

    track_ids: np.ndarray  # int64[n]
    keys: np.ndarray  # uint64[n]
    vectors: np.ndarray  # float32[n, dim]
    library: str  # the catalogue mark, as JSON


def library_version(mark: tuple) -> str:
    """The catalogue mark as the text a file records."""
    return json.dumps(mark, default=str)


def cache_folder(db: sqlite_utils.Database) -> Path | None:
    """``<database folder>/cache`` (None for an in-memory database)."""
    path = db_file(db)
    if path is None or not str(path):
        return None
    return path.parent / FOLDER


def vectors_path(db: sqlite_utils.Database, model_key: str) -> Path | None:
    folder = cache_folder(db)
    if folder is None:
        return None
    return folder / file_name(model_key)


def file_name(model_key: str) -> str:
    digest = hashlib.sha256(f"{FORMAT}\x1f{model_key}".encode()).hexdigest()[:24]
    return f"vectors-{digest}.npz"


def read_vectors(db: sqlite_utils.Database, model_key: str) -> WarmVectors | None:
    """The saved vectors for *model_key*, or None (no file, or one that is ignored)."""
    path = vectors_path(db, model_key)
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            found = WarmVectors(
                np.asarray(data["track_ids"]),
                np.asarray(data["keys"]),
                np.asarray(data["vectors"]),
                str(meta["library"]),
            )
        if meta.get("format") != FORMAT or meta.get("model") != model_key:
            raise ValueError("written for another model or format")
        n = len(found.track_ids)
        if (
            found.track_ids.dtype != np.int64
            or found.keys.dtype != np.uint64
            or found.vectors.dtype != np.float32
            or found.keys.shape != (n,)
            or found.vectors.ndim != 2
            or found.vectors.shape[0] != n
        ):
            raise ValueError("arrays of the wrong type or shape")
    except Exception as exc:  # a bad cache file is never an error: compute as without it
        log.warning("warm-start file %s ignored (%s: %s)", path, type(exc).__name__, exc)
        return None
    return found


def write_vectors(db_path: Path, model_key: str, warm: WarmVectors) -> Path:
    """Save *warm* for *model_key* beside the database file *db_path* (a path, not a
    connection: this runs on a background thread); returns the file written."""
    meta = {"format": FORMAT, "model": model_key, "library": warm.library}
    arrays: dict[str, np.ndarray] = {
        "track_ids": np.asarray(warm.track_ids, dtype=np.int64),
        "keys": np.asarray(warm.keys, dtype=np.uint64),
        "vectors": np.asarray(warm.vectors, dtype=np.float32),
    }
    return _write(Path(db_path), file_name(model_key), meta, arrays)


def _write(db_path: Path, name: str, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write *arrays* and *meta* (as the array ``meta``) to ``cache/<name>``: private,
    under a temporary name first, then renamed (a reader never sees half a file)."""
    with NpzWriter(db_path, name) as out:
        out.add(arrays)
        return out.finish(meta)


class NpzWriter:
    """A ``.npz`` file (what ``np.savez`` writes, read by ``np.load``) written array by
    array: each array goes to disk as it is added, from its own memory (no copy of it,
    nor numpy's 16 MB chunks), so a caller can pack and add one value at a time and
    hold only that value's arrays (the peak of saving a large state stays small). The
    file is private and written under a temporary name; :meth:`finish` adds the
    ``meta`` array and renames it into place; leaving the ``with`` block without
    finishing removes it."""

    CHUNK = 1 << 20

    def __init__(self, db_path: Path, name: str) -> None:
        folder = Path(db_path).parent / FOLDER
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        self.path = folder / name
        self._tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._zip = zipfile.ZipFile(self._file, "w", zipfile.ZIP_STORED, allowZip64=True)
        self._names: set[str] = set()
        self._done = False

    def __enter__(self) -> NpzWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def discard(self) -> None:
        """Remove the file unless :meth:`finish` put it in place (closing it first)."""
        if not self._done:
            self._done = True
            self._zip.close()
            self._file.close()
            self._tmp.unlink(missing_ok=True)

    def add(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Write *arrays* (plain, not object arrays) under their names."""
        for name, array in arrays.items():
            if name in self._names or name == "meta":
                raise ValueError(f"array {name!r} written twice")
            self._names.add(name)
            self._array(name, array)

    def _array(self, name: str, array: np.ndarray) -> None:
        if not array.flags.c_contiguous:  # (ascontiguousarray would make a 0-d array 1-d)
            array = np.ascontiguousarray(array)
        if array.dtype.hasobject:
            raise ValueError(f"array {name!r} holds Python objects")
        header = np.lib.format.header_data_from_array_1_0(array)
        with self._zip.open(name + ".npy", "w", force_zip64=True) as out:
            try:
                np.lib.format.write_array_header_1_0(out, header)
            except ValueError:  # a header too long for format 1.0 (as np.save falls back)
                np.lib.format.write_array_header_2_0(out, header)
            raw = array.reshape(-1).view(np.uint8)
            for at in range(0, raw.size, self.CHUNK):
                out.write(raw[at : at + self.CHUNK].data)

    def finish(self, meta: dict) -> Path:
        """Add *meta* as the array ``meta`` (JSON), close the file and rename it into
        place; returns its path."""
        self._array("meta", np.array(json.dumps(meta)))
        self._zip.close()
        self._file.close()
        os.chmod(self._tmp, 0o600)
        os.replace(self._tmp, self.path)
        self._done = True
        return self.path


# -- the serving state ----------------------------------------------------------------------
def state_name(model_key: str) -> str:
    digest = hashlib.sha256(f"{STATE_FORMAT}\x1f{model_key}".encode()).hexdigest()[:24]
    return f"state-{digest}.npz"


def state_path(db: sqlite_utils.Database, model_key: str) -> Path | None:
    folder = cache_folder(db)
    return None if folder is None else folder / state_name(model_key)


def read_state(db: sqlite_utils.Database, model_key: str) -> tuple[dict, dict] | None:
    """(meta, arrays) of the serving state saved for *model_key*, or None (no file, or
    one that is ignored with one log line). The arrays are read in full here."""
    path = state_path(db, model_key)
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in data.files if name != "meta"}
        if meta.get("format") != STATE_FORMAT or meta.get("model") != model_key:
            raise ValueError("written for another model or format")
    except Exception as exc:  # a bad cache file is never an error: build as without it
        log.warning("warm-start state %s ignored (%s: %s)", path, type(exc).__name__, exc)
        return None
    return meta, arrays


def write_state(db_path: Path, model_key: str, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Save a serving state (*meta*: JSON-able, *arrays*: plain arrays) for *model_key*
    beside the database file *db_path*; returns the file written."""
    with state_writer(db_path, model_key) as out:
        out.add(arrays)
        return finish_state(out, model_key, meta)


def state_writer(db_path: Path, model_key: str) -> NpzWriter:
    """A serving state's file for *model_key* beside *db_path*, to be written a value at
    a time (:meth:`NpzWriter.add`) and closed by :func:`finish_state`."""
    return NpzWriter(Path(db_path), state_name(model_key))


def finish_state(out: NpzWriter, model_key: str, meta: dict) -> Path:
    """Close a state file from :func:`state_writer` with its *meta*; returns its path."""
    return out.finish({**meta, "format": STATE_FORMAT, "model": model_key})
