"""The radio: keep N suggestions ahead of what plays in a player's queue.

Qt-free and player-free: :func:`plan` looks at a queue (what is in it, which entries Segue
added, where playback is) and says what to trim and how many to add; :func:`pick` asks
the recommender for that many tracks, never one already queued or excluded. The MPD host
runs both on its worker thread with its own database connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from player_plugin.recommend.service import suggestions
from player_plugin.store import library_view
from player_plugin.store.settings import get_setting

log = logging.getLogger(__name__)

DEFAULT_AHEAD = 3


@dataclass(frozen=True, slots=True)
class Entry:
    """One queue entry: the player's id for it, its library path (None when outside the
    library) and whether Segue's radio added it."""

    id: object
    path: bytes | None
    ours: bool


@dataclass(frozen=True, slots=True)
class Plan:
    trim: list[object]  # entry ids to delete: radio tracks already played
    add: int  # how many suggestions to append


def plan(queue: Sequence[Entry], current: int | None, ahead: int = DEFAULT_AHEAD) -> Plan:
    """What keeps *ahead* tracks after the entry at index *current* (None: nothing is
    playing, so the radio waits): radio entries before it are trimmed."""
    if current is None or not 0 <= current < len(queue):
        return Plan([], 0)
    trim = [entry.id for entry in queue[:current] if entry.ours]
    after = len(queue) - current - 1
    return Plan(trim, max(0, ahead - after))


def exclusions(db: sqlite_utils.Database) -> set[int]:
    """Track ids the listener excluded (genres, folders), as the dock applies them.

    TODO(app.settings): read these through helper A's shared settings once they land."""
    genres = get_setting(db, "ui.excluded_genres", []) or []
    folders = get_setting(db, "ui.excluded_folders", []) or []
    if not genres and not folders:
        return set()
    return library_view.excluded_track_ids(db, list(genres), list(folders))


def pick(
    db: sqlite_utils.Database,
    n: int,
    *,
    queued: Iterable[bytes] = (),
    after: bytes | None = None,
) -> list[bytes]:
    """Up to *n* library paths to play next: the session's suggestions, none of *queued*
    (playing or queued now) nor an excluded track. *after* anchors the session on a track
    that is playing but not logged."""
    if n <= 0:
        return []
    skip = {bytes(p) for p in queued}
    briefs = (library_view.track_brief(db, p) for p in skip)
    exclude = exclusions(db) | {t["id"] for t in briefs if t is not None}
    try:
        result = suggestions(db, n, after=after, exclude=exclude)
    except LookupError:  # *after* is not in the library
        result = suggestions(db, n, exclude=exclude)
    return [bytes(item.path) for item in result.items if bytes(item.path) not in skip][:n]
