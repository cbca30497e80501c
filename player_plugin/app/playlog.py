"""Play logging for every host: a row when a track starts, completed when it ends.

One Qt-free logger serves the reference player's plugin, the MPRIS and MPD hosts and the
headless ``segue listen``. A play is keyed by what the host calls the track (a file path's
bytes, or a URL's bytes for streaming players). Library files are found by path; a track
that is not a library file but comes with tags (artist, title, …) is matched with the
history importer's matcher, and kept unmatched with its tags when nothing fits (a later
scan matches it again). Pausing logging (privacy) records nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlite_utils

from player_plugin.domain.clock import now_ms
from player_plugin.domain.listen import Reason, as_reason
from player_plugin.store import library_view
from player_plugin.store.plays import end_play, start_play, start_tagged_play, touch_play
from player_plugin.store.settings import logging_paused

if TYPE_CHECKING:
    from player_plugin.library.history.matching import Matcher

log = logging.getLogger(__name__)

TOUCH_MS = 10_000  # how often a play in progress records how far it got


@dataclass(frozen=True, slots=True)
class TrackTags:
    """What a player says about a track besides its location."""

    artist: str | None = None
    title: str | None = None
    album: str | None = None
    duration_ms: int | None = None
    mbid: str | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """What :meth:`PlayLog.started` did: the play id (None when nothing was written), the
    library track (None when unmatched) and a line for the user when it is worth one."""

    play_id: int | None
    track_id: int | None
    message: str = ""


class PlayLog:
    """Writes the plays of one host into one database (the caller's connection)."""

    def __init__(self, db: sqlite_utils.Database, *, clock: Callable[[], int] = now_ms) -> None:
        self.db = db
        self.clock = clock
        self.open: dict[bytes, int] = {}  # track key -> play id being written
        self._matcher: Matcher | None = None

    def forget_matches(self) -> None:
        """Reload the library for tag matching (after a scan)."""
        self._matcher = None

    def _match_tags(self, tags: TrackTags) -> int | None:
        if not tags.title:
            return None
        if self._matcher is None:
            # fuzzy matching (rapidfuzz) only for an outside player's untracked files
            from player_plugin.library.history.matching import Matcher

            self._matcher = Matcher(self.db)
        found = self._matcher.match(
            tags.artist, tags.title, tags.album, duration_ms=tags.duration_ms, mbid=tags.mbid
        )
        return found.track_id if found is not None else None

    def started(
        self,
        key: bytes,
        *,
        path: bytes | None = None,
        tags: TrackTags | None = None,
        source: str = "user",
    ) -> Started:
        """Log that the track *key* started. *path* is its file (by default *key* is tried
        as one); *tags* let a track outside the library be matched, or kept unmatched."""
        key = bytes(key)
        self.ended(key, 0, "stopped")  # a stale open play of the same key: close it
        if logging_paused(self.db):
            return Started(None, None, "Play logging is paused")
        track = library_view.track_brief(self.db, bytes(path if path is not None else key))
        at = self.clock()
        if track is not None:
            play_id = start_play(self.db, track["id"], source=source, at_ms=at)
            track_id: int | None = track["id"]
        else:
            track_id = self._match_tags(tags) if tags is not None else None
            if track_id is not None:
                play_id = start_play(self.db, track_id, source=source, at_ms=at)
            elif tags is not None and tags.title:
                play_id = start_tagged_play(
                    self.db,
                    artist=tags.artist,
                    title=tags.title,
                    album=tags.album,
                    duration_ms=tags.duration_ms,
                    mbid=tags.mbid,
                    source=source,
                    at_ms=at,
                )
            else:
                shown = os.fsdecode(path if path is not None else key)
                return Started(None, None, f"Not in the library, not logged: {shown}")
        if play_id is None:
            return Started(None, track_id)
        self.open[key] = play_id
        message = "" if track_id is not None else "Not in the library: kept with its tags"
        return Started(play_id, track_id, message)

    def ended(self, key: bytes, ms_heard: int, reason: str) -> int | None:
        """Complete the open play of *key*; returns its id (None when none was open)."""
        play_id = self.open.pop(bytes(key), None)
        if play_id is None:
            return None
        checked: Reason = as_reason(reason) or "stopped"
        end_play(
            self.db, play_id, ms_played=max(0, int(ms_heard)), reason=checked, at_ms=self.clock()
        )
        return play_id

    def touch(self, key: bytes | None, ms_heard: int | None) -> None:
        """Record how far the open play of *key* got (a crash then keeps it)."""
        play_id = self.open.get(bytes(key)) if key is not None else None
        if play_id is None or not isinstance(ms_heard, int):
            return
        touch_play(self.db, play_id, ms_played=ms_heard)

    def close_all(self, ms_heard: dict[bytes, int] | None = None) -> int:
        """End every open play as stopped (shutting down); returns how many."""
        keys = list(self.open)
        for key in keys:
            self.ended(key, (ms_heard or {}).get(key, 0), "stopped")
        return len(keys)
