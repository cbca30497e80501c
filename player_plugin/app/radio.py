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

from player_plugin.app.suggest import suggestions

log = logging.getLogger(__name__)

DEFAULT_AHEAD = 3
DOCK = 10  # the dock's list length by default


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


def pick(
    db: sqlite_utils.Database,
    n: int,
    *,
    playing: bytes | None = None,
    queued: Iterable[bytes] = (),
) -> list[bytes]:
    """Up to *n* library paths to play next: the session's suggestions, by the dock's
    rules (:func:`~player_plugin.app.suggest.suggestions`: never the track *playing*, one
    *queued*, an excluded or hidden one), each the head of the list after the queue and
    the picks before it."""
    queue = [bytes(p) for p in queued]
    picked: list[bytes] = []
    for _ in range(max(0, n)):  # one at a time, each after those before it (as a walk)
        # the head of a list as long as the dock's (an album's tracks in its order there)
        result = suggestions(db, DOCK, playing=playing, queued=[*queue, *picked])
        if not result.items:
            break
        picked.append(bytes(result.items[0].path))
    return picked
