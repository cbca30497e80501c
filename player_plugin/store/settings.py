"""User settings in the store: one JSON value per key (``settings`` table)."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

LOGGING_PAUSED = "plays.logging_paused"
# The execution provider the model runs on ("" or unset: automatic). Defined here, at the
# bottom, because the engine's loader reads it and :mod:`player_plugin.app.settings` edits it.
PROVIDER_KEY = "recommend.provider"
FOLDERS_KEY = "library.folders"  # the library folders the player scans and watches


_UNREADABLE = object()  # a stored value that is not JSON: read as unset


def _decoded(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return _UNREADABLE


def get_setting(db: sqlite_utils.Database, key: str, default: Any = None) -> Any:
    """The value stored under *key*, or *default* when unset or unreadable."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    value = _UNREADABLE if row is None else _decoded(row[0])
    return default if value is _UNREADABLE else value


def all_settings(db: sqlite_utils.Database) -> dict[str, Any]:
    """Every stored value by key, in one query (an unreadable value is left out, as
    :func:`get_setting` reads it as unset)."""
    rows = db.execute("SELECT key, value FROM settings").fetchall()
    decoded = ((key, _decoded(raw)) for key, raw in rows)
    return {key: value for key, value in decoded if value is not _UNREADABLE}


def set_setting(db: sqlite_utils.Database, key: str, value: Any) -> None:
    """Store *value* (anything JSON can hold) under *key*."""
    db.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value)],
    )


def logging_paused(db: sqlite_utils.Database) -> bool:
    """Whether the user paused play logging (privacy): no new plays are recorded."""
    return bool(get_setting(db, LOGGING_PAUSED, False))


def set_logging_paused(db: sqlite_utils.Database, paused: bool) -> None:
    set_setting(db, LOGGING_PAUSED, bool(paused))
