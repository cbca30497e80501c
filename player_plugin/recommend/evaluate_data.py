"""Evaluation data: a history file → one temporary store per listener, as a user would have.

Each listener's catalogue is every distinct song (normalised artist + title) in their
history, stored as a track with a synthetic path and what the history says about it; the
plays go in through the same importer users run (``import_plays``), so they all match
exactly. Distractors add the songs of another history as tracks that are never played.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from player_plugin.domain.normalize import match_key
from player_plugin.library.history.readers import ReadStats, read_history
from player_plugin.library.history.records import HistoryPlay, Malformed
from player_plugin.store.catalogue import HistoryTrack, insert_history_tracks
from player_plugin.store.db import open_db

log = logging.getLogger(__name__)

PATH_PREFIX = b"history:"


@dataclass
class History:
    """The plays of a set of files, by listener (None: a single-listener export)."""

    listeners: dict[str | None, list[HistoryPlay]]
    malformed: int
    formats: dict[str, str]


def read_listeners(paths: Sequence[str | os.PathLike], fmt: str = "auto") -> History:
    """Read history files with the importers' readers and group the plays by listener."""
    stats = ReadStats()
    by_listener: dict[str | None, list[HistoryPlay]] = defaultdict(list)
    malformed = 0
    for record in read_history(list(paths), fmt, stats):
        if isinstance(record, Malformed):
            malformed += 1
            continue
        by_listener[record.listener].append(record)
    for plays in by_listener.values():
        plays.sort(key=lambda p: p.started_at)
    return History(dict(by_listener), malformed, dict(stats.formats))


def _track_path(key: str) -> bytes:
    return PATH_PREFIX + key.replace("\x1f", " - ").encode("utf-8", "surrogateescape")


def history_tracks(plays: Iterable[HistoryPlay]) -> list[HistoryTrack]:
    """One track per normalised artist + title, with the commonest spelling, album and
    duration the history gives it. Plays without a title make no track."""
    spelling: dict[str, Counter] = defaultdict(Counter)
    albums: dict[str, Counter] = defaultdict(Counter)
    durations: dict[str, Counter] = defaultdict(Counter)
    for play in plays:
        key = match_key(play.artist, play.title)
        if key.endswith("\x1f"):
            continue
        spelling[key][(play.artist, play.title)] += 1
        if play.album:
            albums[key][play.album] += 1
        if play.duration_ms:
            durations[key][int(play.duration_ms)] += 1
    tracks = []
    for key, names in spelling.items():
        artist, title = names.most_common(1)[0][0]
        album = albums[key].most_common(1)[0][0] if albums[key] else None
        duration = durations[key].most_common(1)[0][0] if durations[key] else None
        tracks.append(HistoryTrack(_track_path(key), key, artist, title, album, duration))
    return tracks


def build_store(
    db_path: str | os.PathLike,
    plays: Sequence[HistoryPlay],
    *,
    fmt: str,
    files: Sequence[str | os.PathLike] = (),
    distractors: Sequence[HistoryPlay] = (),
):
    """A fresh store at *db_path* holding the listener's catalogue (plus distractor
    tracks) and their plays, imported with ``import_plays``. Returns the open database."""
    from player_plugin.library.history.importer import import_plays

    Path(db_path).unlink(missing_ok=True)
    db = open_db(db_path)
    tracks = history_tracks(plays)
    known = {t.match_key for t in tracks}
    extra = [t for t in history_tracks(distractors) if t.match_key not in known]
    insert_history_tracks(db, tracks + extra)
    report = import_plays(db, plays, format=fmt, files=[str(f) for f in files])
    log.info(
        "evaluation store: %d tracks (%d distractors), %d plays added, %d unmatched",
        len(tracks) + len(extra),
        len(extra),
        report.added,
        report.unmatched,
    )
    return db
