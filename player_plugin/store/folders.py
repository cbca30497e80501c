"""The library folders: the music folders the listener chose, scanned and watched.

Stored as one setting (``library.folders``, a JSON list) so every face reads the same list:
``segue folders``, ``segue scan``, the player's *File ▸ Rescan* and the import wizard.
Paths are bytes (a Linux folder name need not be UTF-8); in JSON a name that is valid UTF-8
is kept as text, any other as ``b64:`` + base64 of its bytes (an absolute path never starts
with ``b64:``). Older lists of ``surrogateescape`` text read back to the same bytes.
"""

from __future__ import annotations

import base64
import os

import sqlite_utils

from player_plugin.domain.paths import is_utf8
from player_plugin.store.settings import FOLDERS_KEY, get_setting, set_setting

_B64 = "b64:"


def _encode(folder: bytes) -> str:
    if is_utf8(folder):
        return folder.decode("utf-8")
    return _B64 + base64.b64encode(folder).decode("ascii")


def _decode(value: object) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(_B64):
        try:
            return base64.b64decode(value[len(_B64) :], validate=True)
        except ValueError:
            return None
    return os.fsencode(value)  # text, or surrogateescape text written by older versions


def library_folders(db: sqlite_utils.Database) -> list[bytes]:
    """The library folders, in the order they were added (no duplicates)."""
    value = get_setting(db, FOLDERS_KEY, []) or []
    folders: list[bytes] = []
    for item in value if isinstance(value, list) else []:
        folder = _decode(item)
        if folder is not None and folder not in folders:
            folders.append(folder)
    return folders


def set_library_folders(db: sqlite_utils.Database, folders: list[bytes]) -> None:
    """Replace the list (duplicates dropped, order kept)."""
    unique: list[bytes] = []
    for folder in folders:
        if folder not in unique:
            unique.append(bytes(folder))
    set_setting(db, FOLDERS_KEY, [_encode(f) for f in unique])


def tracks_under(db: sqlite_utils.Database, folder: bytes) -> int:
    """How many present tracks the library holds under *folder*."""
    prefix = folder.rstrip(b"/") + b"/"
    upper = prefix[:-1] + b"0"  # the first byte string after every "folder/..." one
    row = db.execute(
        "SELECT count(*) FROM tracks WHERE missing = 0 AND path >= ? AND path < ?",
        [prefix, upper],
    ).fetchone()
    return int(row[0])
