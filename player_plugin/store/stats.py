"""Read-only counts about the store, for `segue doctor` and the UI."""

from __future__ import annotations

import sqlite_utils


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many tracks, plays, errors and analysed tracks the store holds."""

    def one(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0] or 0)

    return {
        "tracks": one("SELECT count(*) FROM tracks WHERE missing = 0"),
        "missing_tracks": one("SELECT count(*) FROM tracks WHERE missing = 1"),
        "plays": one("SELECT count(*) FROM plays"),
        "unmatched_plays": one("SELECT count(*) FROM plays WHERE track_id IS NULL"),
        "scan_errors": one("SELECT count(*) FROM scan_errors"),
        "imports": one("SELECT count(*) FROM imports"),
        "models": one("SELECT count(*) FROM models"),
    }


def active_model(db: sqlite_utils.Database) -> dict | None:
    """The active model's registry row, if any."""
    rows = list(db.query("SELECT * FROM models WHERE state = 'active' LIMIT 1"))
    return rows[0] if rows else None
