"""Track rows: the scanner's batched writes and the look-ups by path and id.

A track's identity is its ``id``; its path (BLOB of the file name's bytes) may change when
the file moves. Writes here run inside the caller's ``with db.atomic():`` batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final, NamedTuple

import sqlite_utils

# Columns the scanner fills from a file (besides path, first_seen, last_scanned).
FILE_COLUMNS: tuple[str, ...] = (
    "path_text",
    "size",
    "mtime_ns",
    "format",
    "codec",
    "title",
    "artist",
    "artists",
    "album",
    "album_artist",
    "genres",
    "year",
    "date",
    "track_no",
    "track_total",
    "disc_no",
    "disc_total",
    "composer",
    "duration_ms",
    "bitrate",
    "sample_rate",
    "channels",
    "mb_recording_id",
    "mb_artist_id",
    "mb_release_id",
    "isrc",
    "bpm",
    "replaygain_track_gain",
    "replaygain_album_gain",
    "has_cover",
    "match_key",
    "signature",
)
_JSON_LISTS = ("artists", "genres")


class IndexEntry(NamedTuple):
    """What a rescan needs to know about a stored track, without reading its file."""

    id: int
    size: int | None
    mtime_ns: int | None
    missing: bool
    signature: str | None


# A row of :func:`load_index`: (path, id, size, mtime_ns, missing, signature), as SQLite
# gives it (no object per track: making 100,000 named tuples cost a no-change rescan
# 0.2 s); :func:`index_entry` names its fields.
IndexRow = tuple[bytes, int, int | None, int | None, int, str | None]
ID: Final = 1
SIZE: Final = 2
MTIME_NS: Final = 3
MISSING: Final = 4
SIGNATURE: Final = 5


def load_index(db: sqlite_utils.Database) -> dict[bytes, IndexRow]:
    """Every track by path: one query, so a rescan compares files without more SQL."""
    rows = db.conn.execute("SELECT path, id, size, mtime_ns, missing, signature FROM tracks")
    return {row[0]: row for row in rows}


def index_entry(row: IndexRow) -> IndexEntry:
    """A row of :func:`load_index` with its fields named."""
    return IndexEntry(row[ID], row[SIZE], row[MTIME_NS], bool(row[MISSING]), row[SIGNATURE])


_UPSERT = (
    "INSERT INTO tracks (path, {cols}, missing, first_seen, last_scanned) "
    "VALUES (:path, {vals}, 0, :now, :now) "
    "ON CONFLICT(path) DO UPDATE SET {sets}, missing = 0, last_scanned = excluded.last_scanned"
).format(
    cols=", ".join(FILE_COLUMNS),
    vals=", ".join(f":{c}" for c in FILE_COLUMNS),
    sets=", ".join(f"{c} = excluded.{c}" for c in FILE_COLUMNS),
)
_MOVE = (
    "UPDATE tracks SET path = :path, {sets}, missing = 0, last_scanned = :now WHERE id = :id"
).format(sets=", ".join(f"{c} = :{c}" for c in FILE_COLUMNS))


def upsert_tracks(db: sqlite_utils.Database, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new tracks or refresh changed ones (keyed by path). Each row holds ``path``,
    ``now`` and every :data:`FILE_COLUMNS` value."""
    if rows:
        db.conn.executemany(_UPSERT, rows)


def move_tracks(db: sqlite_utils.Database, rows: Sequence[dict[str, Any]]) -> None:
    """Give existing tracks (``id``) a new path and fresh file values; plays stay with them."""
    if rows:
        db.conn.executemany(_MOVE, rows)


def set_missing(db: sqlite_utils.Database, track_ids: Iterable[int], missing: bool) -> None:
    """Flag tracks whose files vanished (their plays stay), or clear the flag."""
    db.conn.executemany(
        "UPDATE tracks SET missing = ? WHERE id = ?", [(int(missing), tid) for tid in track_ids]
    )


def record_errors(
    db: sqlite_utils.Database, errors: Sequence[tuple[bytes, str, str]], at_ms: int
) -> None:
    """Remember why files could not be read: (path bytes, display text, reason)."""
    db.conn.executemany(
        "INSERT INTO scan_errors (path, path_text, reason, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET path_text = excluded.path_text, "
        "reason = excluded.reason, at = excluded.at",
        [(path, text, reason, at_ms) for path, text, reason in errors],
    )


def clear_errors(db: sqlite_utils.Database, paths: Iterable[bytes]) -> None:
    """Forget earlier errors of files that now read fine (or are gone)."""
    db.conn.executemany("DELETE FROM scan_errors WHERE path = ?", [(p,) for p in paths])


def error_paths(db: sqlite_utils.Database) -> set[bytes]:
    return {bytes(row[0]) for row in db.execute("SELECT path FROM scan_errors")}


def scan_errors(db: sqlite_utils.Database, limit: int | None = None) -> list[dict[str, Any]]:
    """Recorded per-file scan errors, newest first."""
    sql = "SELECT path, path_text, reason, at FROM scan_errors ORDER BY at DESC, path_text"
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [
        {"path": bytes(p), "path_text": t, "reason": r, "at": a}
        for p, t, r, a in db.execute(sql, params)
    ]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["path"] = bytes(row["path"])
    for key in _JSON_LISTS:
        try:
            row[key] = json.loads(row[key]) if row.get(key) else []
        except ValueError:
            row[key] = [row[key]]
    row["has_cover"] = bool(row.get("has_cover"))
    row["missing"] = bool(row.get("missing"))
    return row


def track_by_path(db: sqlite_utils.Database, path: bytes) -> dict[str, Any] | None:
    """The track stored under *path* (bytes), with ``artists``/``genres`` as lists."""
    rows = list(db.query("SELECT * FROM tracks WHERE path = ?", [bytes(path)]))
    return _decode(rows[0]) if rows else None


def get_track(db: sqlite_utils.Database, track_id: int) -> dict[str, Any] | None:
    """The track with *track_id*, with ``artists``/``genres`` as lists."""
    rows = list(db.query("SELECT * FROM tracks WHERE id = ?", [int(track_id)]))
    return _decode(rows[0]) if rows else None


def scan_error(db: sqlite_utils.Database, path: bytes) -> dict[str, Any] | None:
    """The recorded scan error of one file (``{"reason", "at"}``), or None."""
    row = db.execute("SELECT reason, at FROM scan_errors WHERE path = ?", [path]).fetchone()
    return None if row is None else {"reason": row[0], "at": row[1]}
