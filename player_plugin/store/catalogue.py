"""What recommenders read from the store: the catalogue of present tracks and the plays.

:func:`load_catalogue` turns the ``tracks`` table into a :class:`Catalogue` (artists,
albums and genres as small integer codes), :func:`load_plays` turns matched plays into
:class:`Play` rows, oldest first, each classified by the one listen rule. Evaluation builds
a throw-away store from a history file with :func:`insert_history_tracks`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np
import sqlite_utils

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.normalize import clean_artist, fold
from player_plugin.domain.paths import display
from player_plugin.domain.play import SESSION_GAP_MS, Play
from player_plugin.store.features import feature_matrix
from player_plugin.store.plays import outcome

log = logging.getLogger(__name__)

__all__ = ["HistoryTrack", "insert_history_tracks", "load_catalogue", "load_plays"]


class _Codes:
    """Text → small integer code, 0 for unknown; keeps the first spelling seen."""

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self._index: dict[str, int] = {}

    def code(self, key: str, name: str | None) -> int:
        if not key:
            return 0
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.names)
            self.names.append(name or key)
        return found


def _first_genre(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw.strip()
    if isinstance(value, list):
        return str(value[0]).strip() if value else ""
    return str(value).strip()


# Tracks of an album named by no album artist whose name, in one folder, more than one
# artist shares (the prefilter: album names with several artists and no album artist)
_SHARED_ALBUMS = (
    "SELECT path, album, artist FROM tracks WHERE missing = 0 AND album_artist IS NULL"
    " AND format IS NOT 'history' AND album IN (SELECT album FROM tracks"
    " WHERE missing = 0 AND album_artist IS NULL AND album IS NOT NULL"
    " GROUP BY album HAVING min(artist) IS NOT max(artist))"
)


def _compilations(
    db: sqlite_utils.Database, clean: Callable[[str], str]
) -> dict[tuple[bytes, str], str]:
    """(folder, album) → an album owner's key for each compilation tagged without an album
    artist: one folder, one album name, several artists (as Strawberry and Clementine tell
    them) — one album, not one per artist. A history's tracks (synthetic paths) never are."""
    artists: dict[tuple[bytes, str], set[str]] = {}
    for path, album, artist in db.execute(_SHARED_ALBUMS):
        artists.setdefault((os.path.dirname(path), album), set()).add(clean(artist or ""))
    shared = sorted(key for key, names in artists.items() if len(names) > 1)
    return {key: f"\x00compilation {n}" for n, key in enumerate(shared)}


def _audio_matrix(db: sqlite_utils.Database, track_ids: list[int]) -> np.ndarray | None:
    """Audio descriptors from the analysis store, when any track is analysed."""
    try:
        matrix = feature_matrix(db, track_ids)
    except Exception:  # a broken feature store must not stop suggestions
        log.warning("audio features could not be read; using tags only", exc_info=True)
        return None
    if matrix is None:
        return None
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(track_ids) or np.isnan(matrix).all():
        return None
    return matrix


def load_catalogue(db: sqlite_utils.Database, *, audio: bool = True) -> Catalogue:
    """Every present (not missing) track, ordered by id, with tags as integer codes."""
    # names repeat across a library's tracks (an album's, an artist's): each distinct one
    # is normalised once (the same keys; on 100k tracks 4x faster)
    clean, fold_once, genre_of = (
        functools.cache(clean_artist),
        functools.cache(fold),
        functools.cache(_first_genre),
    )
    artists, albums, genres = _Codes(), _Codes(), _Codes()
    ids: list[int] = []
    titles: list[str] = []
    artist: list[int] = []
    album: list[int] = []
    genre: list[int] = []
    year: list[int] = []
    duration: list[int] = []
    track_no: list[int] = []
    disc_no: list[int] = []
    paths: list[bytes] = []
    compilations = _compilations(db, clean)
    compiled = {album for _, album in compilations}
    rows = db.execute(
        "SELECT id, path, path_text, title, artist, album_artist, album, genres, year, "
        "duration_ms, track_no, disc_no FROM tracks WHERE missing = 0 ORDER BY id"
    )
    for tid, path, path_text, title, art, album_artist, alb, gen, yr, dur, tno, dno in rows:
        ids.append(int(tid))
        paths.append(bytes(path))
        titles.append(title or (path_text or display(path)).rsplit("/", 1)[-1])
        art_key = clean(art or album_artist)
        artist.append(artists.code(art_key, art or album_artist))
        alb_key = fold_once(alb)
        album_owner = clean(album_artist or art)
        if alb in compiled and not album_artist:
            owner = compilations.get((os.path.dirname(path), alb))
            album_owner = owner or album_owner
        album.append(albums.code(f"{album_owner}\x1f{alb_key}" if alb_key else "", alb))
        g = genre_of(gen)
        genre.append(genres.code(fold_once(g), g))
        year.append(int(yr) if yr else 0)
        duration.append(int(dur) if dur else 0)
        track_no.append(_number(tno))
        disc_no.append(_number(dno))
    return Catalogue(
        track_ids=np.asarray(ids, dtype=np.int64),
        titles=titles,
        artist=np.asarray(artist, dtype=np.int32),
        artist_names=artists.names,
        album=np.asarray(album, dtype=np.int32),
        album_names=albums.names,
        genre=np.asarray(genre, dtype=np.int32),
        genre_names=genres.names,
        year=np.asarray(year, dtype=np.int32),
        duration_ms=np.asarray(duration, dtype=np.int32),
        audio=_audio_matrix(db, ids) if audio and ids else None,
        paths=paths,
        track_no=np.asarray(track_no, dtype=np.int32),
        disc_no=np.asarray(disc_no, dtype=np.int32),
    )


def _number(value: object) -> int:
    """A track or disc number as the catalogue keeps it: 0 when unknown or out of range."""
    return int(value) if isinstance(value, int) and 0 < value < 1 << 31 else 0


def with_new_audio(db: sqlite_utils.Database, catalogue: Catalogue) -> Catalogue:
    """*catalogue* with its audio descriptors read again (the same tracks and tags: an
    analysis ran), as :func:`load_catalogue` would read them now."""
    ids = catalogue.track_ids.tolist()
    return replace(catalogue, audio=_audio_matrix(db, ids) if ids else None)


def load_plays(
    db: sqlite_utils.Database, catalogue: Catalogue, *, until_ms: int | None = None
) -> list[Play]:
    """Matched plays of catalogue tracks (started before *until_ms*), oldest first.

    Each play's outcome comes from the listen rule (``store.plays.outcome``); sessions
    split at 30-minute gaps.
    """
    index = {int(t): i for i, t in enumerate(catalogue.track_ids)}
    sql = (
        "SELECT p.track_id, p.started_at, p.ms_played, p.duration_ms, p.reason, p.skipped, "
        "t.duration_ms "
        "FROM plays p JOIN tracks t ON t.id = p.track_id WHERE p.track_id IS NOT NULL"
    )
    params: list[int] = []
    if until_ms is not None:
        sql += " AND p.started_at < ?"
        params.append(int(until_ms))
    sql += " ORDER BY p.started_at, p.id"
    plays: list[Play] = []
    session = 0
    previous: int | None = None
    for track_id, started, ms, play_dur, reason, skipped, track_dur in db.execute(sql, params):
        item = index.get(int(track_id))
        if item is None:
            continue
        kind = outcome(ms, play_dur or track_dur or None, reason, skipped)
        if previous is not None and started - previous > SESSION_GAP_MS:
            session += 1
        previous = started
        plays.append(Play(item, int(started), int(ms or 0), kind, session))
    return plays


@dataclass(frozen=True, slots=True)
class HistoryTrack:
    """A catalogue entry made from what a history says about one song."""

    path: bytes
    match_key: str
    artist: str
    title: str
    album: str | None = None
    duration_ms: int | None = None


def insert_history_tracks(db: sqlite_utils.Database, tracks: Iterable[HistoryTrack]) -> int:
    """Add tracks known only from a history (evaluation's temporary store); returns how
    many rows were written. Paths are synthetic and never opened."""
    now = int(time.time() * 1000)
    rows = [
        (
            t.path,
            display(t.path),
            t.title,
            t.artist,
            t.album,
            t.duration_ms,
            t.match_key,
            "history",
            now,
            now,
        )
        for t in tracks
    ]
    with db.atomic():
        db.conn.executemany(
            "INSERT OR IGNORE INTO tracks (path, path_text, title, artist, album, duration_ms, "
            "match_key, format, first_seen, last_scanned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)
