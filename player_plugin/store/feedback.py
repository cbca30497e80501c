"""What the listener told us about suggestions: love, "not now" (until a time), "never"."""

from __future__ import annotations

from typing import Literal

import sqlite_utils

from player_plugin.domain import clock

FeedbackKind = Literal["love", "not_now", "never"]
NOT_NOW_MS = 7 * 24 * 3600 * 1000  # "not now" hides a track for a week unless told otherwise

__all__ = [
    "NOT_NOW_MS",
    "add_feedback",
    "clear_feedback",
    "feedback_rows",
    "hidden_track_ids",
    "loved_track_ids",
]


def add_feedback(
    db: sqlite_utils.Database,
    track_id: int,
    kind: FeedbackKind,
    *,
    until_ms: int | None = None,
    at_ms: int | None = None,
) -> int:
    """Record one piece of feedback; "not now" lasts until *until_ms* (default a week)."""
    if kind not in ("love", "not_now", "never"):
        raise ValueError(f"unknown feedback kind {kind!r}")
    at = clock.now_ms() if at_ms is None else int(at_ms)
    if kind == "not_now" and until_ms is None:
        until_ms = at + NOT_NOW_MS
    cursor = db.execute(
        "INSERT INTO feedback (track_id, kind, at, until) VALUES (?, ?, ?, ?)",
        [int(track_id), kind, at, until_ms if kind == "not_now" else None],
    )
    assert cursor.lastrowid is not None  # an INSERT always sets it
    return cursor.lastrowid


def clear_feedback(db: sqlite_utils.Database, track_id: int, kind: FeedbackKind) -> int:
    """Take back every *kind* feedback on a track (e.g. un-love); returns rows removed."""
    cursor = db.execute(
        "DELETE FROM feedback WHERE track_id = ? AND kind = ?", [int(track_id), kind]
    )
    return int(cursor.rowcount)


def hidden_track_ids(db: sqlite_utils.Database, now_ms: int | None = None) -> set[int]:
    """Tracks never to suggest now: every "never", and "not now" that has not expired."""
    now = clock.now_ms() if now_ms is None else int(now_ms)
    rows = db.execute(
        "SELECT DISTINCT track_id FROM feedback "
        "WHERE kind = 'never' OR (kind = 'not_now' AND until > ?)",
        [now],
    )
    return {int(r[0]) for r in rows}


def loved_track_ids(db: sqlite_utils.Database) -> set[int]:
    """Tracks the listener marked as loved."""
    return {
        int(r[0]) for r in db.execute("SELECT DISTINCT track_id FROM feedback WHERE kind = 'love'")
    }


def feedback_rows(db: sqlite_utils.Database, now_ms: int | None = None) -> list[dict]:
    """What the listener told us and still holds: every love and never, and each unexpired
    not now (with its ``until``), one row per track and kind, newest first, with the
    track's artist and title (``track_id, kind, at, until, artist, title``)."""
    now = clock.now_ms() if now_ms is None else int(now_ms)
    return list(
        db.query(
            "SELECT f.track_id, f.kind, max(f.at) AS at, max(f.until) AS until, "
            "t.artist, t.title, t.path_text FROM feedback f "
            "LEFT JOIN tracks t ON t.id = f.track_id "
            "WHERE f.kind != 'not_now' OR f.until > ? "
            "GROUP BY f.track_id, f.kind ORDER BY max(f.at) DESC, f.track_id",
            [now],
        )
    )
