"""Library folders as a use case: list, add and remove the folders Segue scans and watches.

``segue folders``, ``segue scan PATH`` (which adds PATH), ``make run MUSIC=PATH`` (through
``segue scan``), the player's *File ▸ Rescan* and the import wizard all read and edit the
same list (:mod:`player_plugin.store.folders`). Paths are bytes; a folder is kept as an
absolute, normalised path, so ``~/Music`` and ``~/Music/`` are one folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import sqlite_utils

from player_plugin.domain.errors import SegueError
from player_plugin.domain.paths import json_fields
from player_plugin.store.folders import library_folders, set_library_folders, tracks_under

__all__ = [
    "FolderError",
    "FolderInfo",
    "add_folders",
    "folder_report",
    "library_folders",
    "normalise",
    "remove_folder",
]


class FolderError(SegueError):
    """A folder that cannot be added or removed; ``subject`` is the folder (bytes)."""


@dataclass(frozen=True)
class FolderInfo:
    """One library folder: its path, whether it is there now, how many tracks it holds."""

    path: bytes
    exists: bool
    tracks: int

    def as_json(self) -> dict:
        return {**json_fields(self.path), "exists": self.exists, "tracks": self.tracks}


def normalise(folder: bytes) -> bytes:
    """The folder as an absolute path without a trailing slash or ``..`` parts."""
    return os.path.normpath(os.path.abspath(os.fsencode(folder)))


def add_folders(db: sqlite_utils.Database, folders: list[bytes]) -> list[bytes]:
    """Add *folders* (each must be a readable folder); returns the ones that were new."""
    current = library_folders(db)
    added: list[bytes] = []
    for raw in folders:
        folder = normalise(raw)
        if not os.path.isdir(folder):
            raise FolderError("not a folder", folder)
        if not os.access(folder, os.R_OK | os.X_OK):
            raise FolderError("cannot read this folder", folder)
        if folder not in current and folder not in added:
            added.append(folder)
    if added:
        set_library_folders(db, current + added)
    return added


def remove_folder(db: sqlite_utils.Database, folder: bytes) -> bytes:
    """Stop scanning and watching *folder* (its tracks and their plays stay in the library);
    returns the folder as it was stored."""
    current = library_folders(db)
    wanted = normalise(folder)
    if wanted not in current:
        raise FolderError("not a library folder (see `segue folders`)", wanted)
    set_library_folders(db, [f for f in current if f != wanted])
    return wanted


def folder_report(db: sqlite_utils.Database) -> list[FolderInfo]:
    """Every library folder with whether it exists now and its present tracks."""
    return [FolderInfo(f, os.path.isdir(f), tracks_under(db, f)) for f in library_folders(db)]
