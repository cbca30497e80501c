"""The play log: append-only rows, written when a track starts and completed when it ends.

Counts are queries (:func:`track_stats`), never mutable columns. Each play belongs to a
listening session: a new session starts after a 30-minute gap between starts, and a
session's id is the start time (ms) of its first play, so sessions are derived from the
log and recomputed (:func:`resession`) whenever plays are added or deleted out of order.
Privacy: logging can be paused (:mod:`player_plugin.store.settings`), plays deleted, and
the whole history exported as ListenBrainz JSON (:func:`export_listenbrainz`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import sqlite_utils

from player_plugin.domain.clock import now_ms
from player_plugin.domain.listen import (
    REASON_CODES,
    REASONS,
    Outcome,
    Reason,
    as_reason,
    classify,
    classify_columns,
    default_reason,
)
from player_plugin.domain.normalize import match_key
from player_plugin.domain.paths import json_fields
from player_plugin.domain.play import SESSION_GAP_MS
from player_plugin.store.settings import logging_paused

# a plays row's reason as its code in REASON_CODES (0: none), and its skip flag as
# outcome() reads it (the export's own flag, else whether it ended skipped), in SQL
REASON_SQL = (
    "CASE p.reason "
    + " ".join(f"WHEN '{reason}' THEN {code}" for reason, code in REASON_CODES.items())
    + " ELSE 0 END"
)
SKIPPED_SQL = "coalesce(p.skipped != 0, p.reason = 'skipped', 0)"

SOURCES = ("user", "queue", "suggestion", "autoplay", "shuffle", "import")

__all__ = [
    "REASONS",
    "SOURCES",
    "delete_plays",
    "end_play",
    "export_listenbrainz",
    "get_play",
    "log_play",
    "outcome",
    "resession",
    "start_play",
    "start_tagged_play",
    "touch_play",
    "track_stats",
]


def _track(db: sqlite_utils.Database, track_id: int) -> dict[str, Any]:
    rows = list(
        db.query(
            "SELECT id, artist, title, album, duration_ms, mb_recording_id FROM tracks "
            "WHERE id = ?",
            [int(track_id)],
        )
    )
    if not rows:
        raise LookupError(f"no track with id {track_id}")
    return rows[0]


def _check(source: str, reason: str | None) -> None:
    if source not in SOURCES:
        raise ValueError(f"unknown play source {source!r} (one of {', '.join(SOURCES)})")
    if reason is not None and reason not in REASONS:
        raise ValueError(f"unknown end reason {reason!r} (one of {', '.join(REASONS)})")


_INSERT = (
    "INSERT INTO plays (track_id, started_at, ended_at, ms_played, duration_ms, reason, "
    "source, artist, title, album, mbid, match_key, match_method) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'path')"
)


def _insert_play(
    db: sqlite_utils.Database,
    track: dict[str, Any],
    started: int,
    ended: int | None,
    ms_played: int,
    duration: int | None,
    reason: str | None,
    source: str,
) -> int:
    """One play row for a library track (its tags kept beside it), sessions updated."""
    values = [track["id"], started, ended, ms_played, duration, reason, source]
    tags = [track["artist"], track["title"], track["album"], track["mb_recording_id"]]
    with db.atomic():
        cursor = db.execute(_INSERT, [*values, *tags, match_key(track["artist"], track["title"])])
        assert cursor.lastrowid is not None  # an INSERT always sets it
        play_id = cursor.lastrowid
        resession(db, started)
    return play_id


def start_play(
    db: sqlite_utils.Database,
    track_id: int,
    *,
    source: str = "user",
    at_ms: int | None = None,
) -> int | None:
    """Record that *track_id* started playing; returns the play id, or None when logging
    is paused. Call :func:`end_play` when it ends (and :func:`touch_play` now and then, so
    a crash keeps how far it got)."""
    _check(source, None)
    with db.atomic():  # the pause switch is read where the play is written
        if logging_paused(db):
            return None
        track = _track(db, track_id)
        started = int(at_ms if at_ms is not None else now_ms())
        return _insert_play(db, track, started, None, 0, track["duration_ms"], None, source)


def start_tagged_play(
    db: sqlite_utils.Database,
    *,
    artist: str | None,
    title: str,
    album: str | None = None,
    duration_ms: int | None = None,
    mbid: str | None = None,
    source: str = "user",
    at_ms: int | None = None,
) -> int | None:
    """Start a play of a track outside the library, kept with its tags (``track_id`` NULL
    until a scan matches it, like an unmatched imported play); None when paused."""
    _check(source, None)
    if logging_paused(db):
        return None
    started = int(at_ms if at_ms is not None else now_ms())
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO plays (track_id, started_at, ms_played, duration_ms, source, artist, "
            "title, album, mbid, match_key) VALUES (NULL, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
            [started, duration_ms, source, artist, title, album, mbid, match_key(artist, title)],
        )
        assert cursor.lastrowid is not None  # an INSERT always sets it
        play_id = cursor.lastrowid
        resession(db, started)
    return play_id


def touch_play(db: sqlite_utils.Database, play_id: int, *, ms_played: int) -> None:
    """How far a play in progress got (so a crash keeps it)."""
    db.execute(
        "UPDATE plays SET ms_played = ? WHERE id = ? AND ended_at IS NULL",
        [max(0, int(ms_played)), int(play_id)],
    )


def end_play(
    db: sqlite_utils.Database,
    play_id: int,
    *,
    ms_played: int,
    reason: Reason | None = None,
    at_ms: int | None = None,
) -> bool:
    """Complete a play: ms heard and how it ended (by default what the listen rule says of
    *ms_played*). Returns False when no such play exists (e.g. deleted meanwhile)."""
    _check("user", reason)
    with db.atomic():
        row = db.execute("SELECT duration_ms FROM plays WHERE id = ?", [int(play_id)]).fetchone()
        if row is None:
            return False
        ms_played = max(0, int(ms_played))
        reason = reason or default_reason(ms_played, row[0])
        db.execute(
            "UPDATE plays SET ended_at = ?, ms_played = ?, reason = ? WHERE id = ?",
            [int(at_ms if at_ms is not None else now_ms()), ms_played, reason, int(play_id)],
        )
    return True


def log_play(
    db: sqlite_utils.Database,
    track_id: int,
    *,
    started_at: int,
    ms_played: int,
    duration_ms: int | None = None,
    reason: Reason | None = None,
    source: str = "user",
) -> int | None:
    """Record one whole play at once (scripts, other players); None when paused."""
    _check(source, reason)
    with db.atomic():  # the pause switch is read where the play is written
        if logging_paused(db):
            return None
        track = _track(db, track_id)
        duration = duration_ms if duration_ms is not None else track["duration_ms"]
        ms_played = max(0, int(ms_played))
        reason = reason or default_reason(ms_played, duration)
        start = int(started_at)
        return _insert_play(
            db, track, start, start + ms_played, ms_played, duration, reason, source
        )


def get_play(db: sqlite_utils.Database, play_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM plays WHERE id = ?", [int(play_id)]))
    return rows[0] if rows else None


def outcome(
    ms_played: int | None, duration_ms: int | None, reason: str | None, skipped: int | None
) -> Outcome:
    """The listen rule for a stored row. A scrobble (completed, ms unknown = 0) is a listen
    whatever the track's length; the export's own skip flag wins when it has one."""
    ms = int(ms_played or 0)
    if reason == "completed" and ms <= 0:
        duration_ms = None
    flag = bool(skipped) if skipped is not None else reason == "skipped"
    return classify(ms, duration_ms, as_reason(reason), skipped=flag)


def outcome_columns(
    ms_played: np.ndarray, duration_ms: np.ndarray, reasons: np.ndarray, skipped: np.ndarray
) -> np.ndarray:
    """:func:`outcome` of many stored rows at once (the outcomes' values, int8): ms played,
    the duration the row or its track gives (≤ 0: unknown), the reasons' codes
    (:data:`REASON_SQL`) and the skip flag as :func:`outcome` reads it (:data:`SKIPPED_SQL`)."""
    scrobble = (reasons == REASON_CODES["completed"]) & (ms_played <= 0)
    return classify_columns(ms_played, np.where(scrobble, 0, duration_ms), reasons, skipped)


def track_stats(db: sqlite_utils.Database, track_id: int) -> dict[str, int | None]:
    """``{"plays", "skips", "last_played"}``: listens and skips by the listen rule, and the
    start (ms UTC) of the most recent listen."""
    plays = skips = 0
    last: int | None = None
    rows = db.execute(
        "SELECT started_at, ms_played, duration_ms, reason, skipped FROM plays "
        "WHERE track_id = ? AND (reason IS NOT NULL OR ms_played > 0)",
        [int(track_id)],
    )
    for started, ms, duration, reason, skipped in rows:
        kind = outcome(ms, duration, reason, skipped)
        if kind is Outcome.LISTENED:
            plays += 1
            last = started if last is None else max(last, started)
        elif kind is Outcome.SKIPPED:
            skips += 1
    return {"plays": plays, "skips": skips, "last_played": last}


def resession(db: sqlite_utils.Database, since_ms: int, listener: str | None = None) -> int:
    """Recompute the session of every play of *listener* from *since_ms* on; returns how
    many rows changed. A session is the run of plays whose starts are at most 30 minutes
    apart; its id is the start of its first play."""
    previous = db.execute(
        "SELECT started_at, session FROM plays WHERE listener IS ? AND started_at < ? "
        "ORDER BY started_at DESC, id DESC LIMIT 1",
        [listener, int(since_ms)],
    ).fetchone()
    last_start, session = previous if previous else (None, None)
    if previous is not None and session is None:
        session = last_start
    updates = []
    rows = db.execute(
        "SELECT id, started_at, session FROM plays WHERE listener IS ? AND started_at >= ? "
        "ORDER BY started_at, id",
        [listener, int(since_ms)],
    )
    for play_id, started, old in rows:
        if last_start is None or started - last_start > SESSION_GAP_MS:
            session = started
        if old != session:
            updates.append((session, play_id))
        last_start = started
    if updates:
        db.conn.executemany("UPDATE plays SET session = ? WHERE id = ?", updates)
    return len(updates)


def delete_plays(
    db: sqlite_utils.Database,
    *,
    play_id: int | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    everything: bool = False,
) -> int:
    """Delete one play, the plays started in ``[start_ms, end_ms)``, or all of them (and
    the records of past imports with them); returns how many plays were deleted."""
    if everything:
        where, params = "1 = 1", []
    elif play_id is not None:
        where, params = "id = ?", [int(play_id)]
    elif start_ms is not None or end_ms is not None:
        where = "started_at >= ? AND started_at < ?"
        params = [int(start_ms if start_ms is not None else 0), int(end_ms or 2**62)]
    else:
        raise ValueError("say which plays to delete: an id, a time range, or all")
    with db.atomic():
        affected = db.execute(
            f"SELECT listener, min(started_at) FROM plays WHERE {where} GROUP BY listener",
            params,
        ).fetchall()
        count = db.execute(f"DELETE FROM plays WHERE {where}", params).rowcount
        if everything:  # nothing left to undo: the import records (file names) go too
            db.execute("DELETE FROM imports")
        for listener, since in affected:
            resession(db, since, listener)
    return int(count)


def _export_item(row: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "submission_client": "Segue",
        "ms_played": row["ms_played"],
        "segue_started_ms": row["started_at"],
        "segue_source": row["source"],
    }
    optional = {
        "recording_mbid": row["mbid"],
        "duration_ms": row["duration_ms"],
        "segue_reason": row["reason"],
        "segue_ended_ms": row["ended_at"],
        "segue_skipped": None if row["skipped"] is None else bool(row["skipped"]),
        "segue_shuffle": None if row["shuffle"] is None else bool(row["shuffle"]),
        "segue_listener": row["listener"],
    }
    info.update({key: value for key, value in optional.items() if value is not None})
    if row["path"] is not None:
        fields = json_fields(bytes(row["path"]))
        info["segue_path"] = fields["path"]
        if "path_b64" in fields:
            info["segue_path_b64"] = fields["path_b64"]
    title = row["title"] or (
        os.path.basename(json_fields(bytes(row["path"]))["path"]) if row["path"] else ""
    )
    meta: dict[str, Any] = {
        "artist_name": row["artist"] or "",
        "track_name": title,
        "additional_info": info,
    }
    if row["album"]:
        meta["release_name"] = row["album"]
    return {"listened_at": row["started_at"] // 1000, "track_metadata": meta}


def export_listenbrainz(db: sqlite_utils.Database, path: str | os.PathLike) -> int:
    """Write every play (matched or not) as a ListenBrainz JSON array, oldest first, with
    Segue's own fields in ``additional_info`` so it imports back without loss. Returns the
    number of plays written. The file is written whole, then moved into place."""
    rows: Iterable[dict[str, Any]] = db.query(
        "SELECT p.*, coalesce(p.artist, t.artist) AS artist, coalesce(p.title, t.title) AS "
        "title, coalesce(p.album, t.album) AS album, t.path AS path FROM plays p "
        "LEFT JOIN tracks t ON t.id = p.track_id ORDER BY p.started_at, p.id"
    )
    items = [_export_item(row) for row in rows]
    target = os.fspath(path)
    partial = f"{target}.partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(items, handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    os.replace(partial, target)
    return len(items)
