"""Queries behind the library table: ordered, filtered track ids, then rows by the page.

The table asks once for the ids in display order (a few ms per 100,000 tracks) and then
fetches only the rows it shows, by id, so scrolling and sorting stay smooth at any size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

import sqlite_utils

from player_plugin.domain.listen import is_listened

# Sortable columns: name -> SQL ordering (a tie-break on id keeps the order stable).
ORDERS: dict[str, str] = {
    "title": "title COLLATE NOCASE {dir}, id",
    "artist": "artist COLLATE NOCASE {dir}, album COLLATE NOCASE, disc_no, track_no, id",
    "album": "album COLLATE NOCASE {dir}, disc_no, track_no, id",
    "genre": "genres COLLATE NOCASE {dir}, id",
    "year": "year {dir}, id",
    "duration": "duration_ms {dir}, id",
}

ROW_FIELDS = (
    "id, path, path_text, title, artist, album, genres, year, duration_ms, track_no, has_cover"
)


def _where(
    search: str, artist: str | None = None, album: str | None = None
) -> tuple[str, list[str]]:
    """Every word of *search* must appear in the artist, album, title or genres; with
    *artist* (and *album*), only that artist's (album's) tracks ("" = none tagged)."""
    clauses = ["missing = 0"]
    params: list[str] = []
    if artist is not None:
        clauses.append("coalesce(artist, '') = ?")
        params.append(artist)
    if album is not None:
        clauses.append("coalesce(album, '') = ?")
        params.append(album)
    for word in search.split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            "(title LIKE ? ESCAPE '\\' OR artist LIKE ? ESCAPE '\\' OR album LIKE ? ESCAPE '\\'"
            " OR genres LIKE ? ESCAPE '\\')"
        )
        params.extend([pattern] * 4)
    return " AND ".join(clauses), params


def ordered_ids(
    db: sqlite_utils.Database,
    *,
    search: str = "",
    order: str = "artist",
    descending: bool = False,
    artist: str | None = None,
    album: str | None = None,
) -> list[int]:
    """Ids of present tracks matching *search* (and *artist*, *album*), in display order."""
    sql_order = ORDERS.get(order, ORDERS["artist"]).format(dir="DESC" if descending else "ASC")
    where, params = _where(search, artist, album)
    return [
        row[0]
        for row in db.execute(f"SELECT id FROM tracks WHERE {where} ORDER BY {sql_order}", params)
    ]


def artist_albums(db: sqlite_utils.Database) -> list[tuple[str, str, int]]:
    """(artist, album, tracks) for every album of the present tracks, by artist then
    album, case-insensitively ("" where untagged): the browser pane's tree in one query
    (about 0.1 s for 100,000 tracks)."""
    return [
        (str(artist), str(album), int(n))
        for artist, album, n in db.execute(
            "SELECT coalesce(artist, '') AS a, coalesce(album, '') AS b, count(*)"
            " FROM tracks WHERE missing = 0 GROUP BY a, b"
            " ORDER BY a = '', a COLLATE NOCASE, a, b = '', b COLLATE NOCASE, b"
        )
    ]


def rows_by_id(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict]:
    """The display fields of the tracks *ids* (genres decoded to a list)."""
    found: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.query(f"SELECT {ROW_FIELDS} FROM tracks WHERE id IN ({marks})", chunk):
            try:
                genres = json.loads(row["genres"]) if row["genres"] else []
            except ValueError:
                genres = [row["genres"]]
            row["genres"] = genres if isinstance(genres, list) else [str(genres)]
            found[row["id"]] = row
    return found


def track_brief(db: sqlite_utils.Database, path: bytes) -> dict | None:
    """Title, artist, album, duration and id of the track at *path* (present or not)."""
    rows = list(
        db.query(
            "SELECT id, path, path_text, title, artist, album, duration_ms, has_cover"
            " FROM tracks WHERE path = ?",
            [path],
        )
    )
    return rows[0] if rows else None


def track_words(db: sqlite_utils.Database, path: bytes) -> tuple[str, str] | None:
    """(title, "artist — album") of the library's track at *path*, as a window shows it (the
    file name for a track without a title); None when *path* is not in the library."""
    track = track_brief(db, path)
    if track is None:
        return None
    title = track["title"] or track["path_text"].rsplit("/", 1)[-1]
    return title, " — ".join(x for x in (track["artist"], track["album"]) if x)


def path_of(db: sqlite_utils.Database, track_id: int) -> bytes | None:
    row = db.execute("SELECT path FROM tracks WHERE id = ?", [track_id]).fetchone()
    return bytes(row[0]) if row else None


def plays_since(db: sqlite_utils.Database, since_ms: int, after_id: int = 0) -> int:
    """How many plays (logged or imported) started after *since_ms* and were recorded
    after play *after_id*."""
    row = db.execute(
        "SELECT count(*) FROM plays WHERE started_at > ? AND id > ?", [since_ms, after_id]
    ).fetchone()
    return int(row[0])


def last_play_id(db: sqlite_utils.Database) -> int:
    """The newest play row's id (0 when there is none)."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM plays").fetchone()[0])


def open_plays(db: sqlite_utils.Database) -> list[int]:
    """Plays that started and never ended (a crash mid-track)."""
    return [r[0] for r in db.execute("SELECT id FROM plays WHERE ended_at IS NULL")]


def recent_play_rows(db: sqlite_utils.Database, limit: int = 20) -> list[dict]:
    """The latest plays with their track's artist/title (newest first)."""
    return list(
        db.query(
            "SELECT p.id, p.track_id, p.started_at, p.ms_played, p.reason, p.source,"
            " coalesce(t.artist, p.artist) AS artist, coalesce(t.title, p.title) AS title"
            " FROM plays p LEFT JOIN tracks t ON t.id = p.track_id"
            " ORDER BY p.started_at DESC, p.id DESC LIMIT ?",
            [limit],
        )
    )


def never_played_ids(db: sqlite_utils.Database, track_ids: list[int]) -> set[int]:
    """Which of *track_ids* have no play at all."""
    if not track_ids:
        return set()
    marks = ",".join("?" * len(track_ids))
    played = {
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT track_id FROM plays WHERE track_id IN ({marks})", track_ids
        )
    }
    return set(track_ids) - played


def last_model_ms(db: sqlite_utils.Database) -> int:
    """When the newest model (whatever its state) was created; 0 when none."""
    row = db.execute("SELECT max(created_at) FROM models").fetchone()
    return int(row[0] or 0)


def _listens(db: sqlite_utils.Database) -> Iterator[bool]:
    """Whether each matched play was a listen (by the one listen rule)."""
    for ms_played, duration_ms, reason in db.execute(
        "SELECT p.ms_played, coalesce(p.duration_ms, t.duration_ms), p.reason"
        " FROM plays p JOIN tracks t ON t.id = p.track_id"
    ):
        yield is_listened(ms_played or 0, duration_ms, reason)


def play_counts(db: sqlite_utils.Database) -> tuple[int, int]:
    """(matched plays, of which listened by the one listen rule)."""
    matched = listened = 0
    for listen in _listens(db):
        matched += 1
        listened += listen
    return matched, listened


def listened_at_least(db: sqlite_utils.Database, n: int) -> bool:
    """Whether at least *n* matched plays were listens; it stops reading at the *n*-th,
    so a long history costs no more than a short one."""
    if n <= 0:
        return True
    found = 0
    for listen in _listens(db):
        found += listen
        if found >= n:
            return True
    return False


def excluded_track_ids(
    db: sqlite_utils.Database, genres: Iterable[str], folders: Iterable[str]
) -> set[int]:
    """Tracks never to suggest: tagged with any of *genres* (compared case-folded, any of
    a track's genres), or under one of *folders* (compared as bytes, so folder names
    that are not UTF-8 work too)."""
    wanted = {g.strip().casefold() for g in genres if g.strip()}
    out: set[int] = set()
    if wanted:
        rows = db.execute("SELECT id, genres FROM tracks WHERE genres IS NOT NULL AND genres != ''")
        for track_id, raw in rows:
            if not wanted.isdisjoint(g.casefold() for g in _genre_list(raw)):
                out.add(int(track_id))
    for folder in folders:
        prefix = os.fsencode(folder).rstrip(b"/") + b"/"
        out.update(
            int(r[0])
            for r in db.execute(
                "SELECT id FROM tracks WHERE substr(path, 1, ?) = ?", [len(prefix), prefix]
            )
        )
    return out


def _genre_list(raw: str) -> list[str]:
    """A track's genres as stored (a JSON list; older rows may hold plain text)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return [str(value).strip()]
