"""SQL for history imports: the tracks to match against, stored plays to de-duplicate
against, the ``imports`` record, and re-matching plays that matched no track yet."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from player_plugin.store.plays import resession

PLAY_COLUMNS = (
    "track_id",
    "started_at",
    "ended_at",
    "ms_played",
    "duration_ms",
    "reason",
    "source",
    "session",
    "shuffle",
    "skipped",
    "artist",
    "title",
    "album",
    "mbid",
    "match_key",
    "match_method",
    "listener",
    "import_id",
)


def tracks_for_matching(db: sqlite_utils.Database) -> list[tuple]:
    """``(id, artist, title, album, duration_ms, mb_recording_id, missing, path)`` of every
    track."""
    return db.execute(
        "SELECT id, artist, title, album, duration_ms, mb_recording_id, missing, path FROM tracks"
    ).fetchall()


def stored_play_keys(
    db: sqlite_utils.Database, low_ms: int, high_ms: int
) -> Iterable[tuple[int, int | None, str | None, str | None]]:
    """``(started_at, track_id, match_key, listener)`` of plays started in the range."""
    return db.execute(
        "SELECT started_at, track_id, match_key, listener FROM plays "
        "WHERE started_at BETWEEN ? AND ?",
        [int(low_ms), int(high_ms)],
    )


def create_import(db: sqlite_utils.Database, fmt: str, files: Sequence[str], at_ms: int) -> int:
    cursor = db.execute(
        "INSERT INTO imports (format, files, started_at) VALUES (?, ?, ?)",
        [fmt, json.dumps(list(files), ensure_ascii=False), int(at_ms)],
    )
    assert cursor.lastrowid is not None  # an INSERT always sets it
    return cursor.lastrowid


def insert_plays(db: sqlite_utils.Database, rows: Sequence[dict[str, Any]]) -> None:
    """Insert imported plays (dicts with :data:`PLAY_COLUMNS`)."""
    if rows:
        sql = "INSERT INTO plays ({}) VALUES ({})".format(
            ", ".join(PLAY_COLUMNS), ", ".join(f":{c}" for c in PLAY_COLUMNS)
        )
        db.conn.executemany(sql, rows)


def finish_import(
    db: sqlite_utils.Database, import_id: int, counts: dict[str, int], report: dict[str, Any]
) -> None:
    db.execute(
        "UPDATE imports SET read = ?, added = ?, duplicates = ?, matched = ?, unmatched = ?, "
        "malformed = ?, report = ? WHERE id = ?",
        [
            counts["read"],
            counts["added"],
            counts["duplicates"],
            counts["matched"],
            counts["unmatched"],
            counts["malformed"],
            json.dumps(report, ensure_ascii=False),
            int(import_id),
        ],
    )


def get_import(db: sqlite_utils.Database, import_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM imports WHERE id = ?", [int(import_id)]))
    return rows[0] if rows else None


def list_imports(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM imports ORDER BY id"))


def delete_import(db: sqlite_utils.Database, import_id: int) -> int:
    """Remove an import and exactly the plays it added; returns how many plays went."""
    with db.atomic():
        affected = db.execute(
            "SELECT listener, min(started_at) FROM plays WHERE import_id = ? GROUP BY listener",
            [int(import_id)],
        ).fetchall()
        removed = db.execute("DELETE FROM plays WHERE import_id = ?", [int(import_id)]).rowcount
        db.execute("DELETE FROM imports WHERE id = ?", [int(import_id)])
        for listener, since in affected:
            resession(db, since, listener)
    return int(removed)


def unmatched_plays(db: sqlite_utils.Database) -> list[tuple]:
    """``(id, artist, title, album, mbid, duration_ms)`` of every play without a track."""
    return db.execute(
        "SELECT id, artist, title, album, mbid, duration_ms FROM plays "
        "WHERE track_id IS NULL AND title IS NOT NULL"
    ).fetchall()


def set_play_matches(db: sqlite_utils.Database, matches: Sequence[tuple[int, str, int]]) -> int:
    """Point unmatched plays at tracks: ``(track_id, method, play_id)`` each. Returns how
    many plays changed."""
    if not matches:
        return 0
    cursor = db.conn.executemany(
        "UPDATE plays SET track_id = ?, match_method = ? WHERE id = ? AND track_id IS NULL",
        matches,
    )
    return int(cursor.rowcount)
