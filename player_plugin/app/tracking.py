"""From what an external player reports to plays: ms heard and how each track ended.

Observer hosts (MPRIS, MPD) see a player from outside: now and then a :class:`Snapshot`
(which track, playing or paused, the position, the length) and sometimes a seek. The
:class:`PlayTracker` turns that stream into ``start`` / ``end`` calls, the way the reference
player would report them:

- ms heard counts only listening: a position jump (a seek) adds the time played before it,
  never the distance jumped; paused time never counts;
- a track that changes near its end ``completed``; one that changes earlier was
  ``skipped`` (without a length the listen rule decides); Stop ends it ``stopped``, and so
  does the player vanishing mid-track;
- a track that starts again from its end (repeat) is a new play; an id that changes while
  the same file keeps playing is not.

Qt-free, clock passed in: the hosts drive it from their worker threads, tests directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from player_plugin.app.playlog import TrackTags
from player_plugin.domain.listen import default_reason

SEEK_SLACK_MS = 1500  # a position further than this from what time predicts is a seek
NEAR_END_MS = 3000  # a track that changes this close to its end played through
RESTART_MS = 3000  # a repeat starts again within this of the beginning
JOINED_MS = 2500  # a track first seen this far in started while we watched

Status = str  # "playing", "paused" or "stopped"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One look at the player. *key* names the track (its file path's bytes, or its URL's
    for streams; None when nothing is loaded); *instance* tells two plays of one key apart
    when the player says so (MPD's song id), else None."""

    key: bytes | None
    status: Status
    position_ms: int | None = None
    length_ms: int | None = None
    path: bytes | None = None  # the library file, when the URL is a local file
    tags: TrackTags | None = None
    instance: object = None


StartFn = Callable[[Snapshot], None]
EndFn = Callable[[Snapshot, int, str], None]


class PlayTracker:
    """Follows one player; calls *on_start(snapshot)* and *on_end(snapshot, ms, reason)*."""

    def __init__(self, on_start: StartFn, on_end: EndFn) -> None:
        self.on_start = on_start
        self.on_end = on_end
        self.current: Snapshot | None = None
        self.heard = 0
        self._pos = 0
        self._at = 0
        self._playing = False
        self._bad_length = False
        self._seen: Snapshot | None = None  # the previous look (None: not watching yet)
        self._seen_at = 0

    # -- what the host reports ---------------------------------------------------------
    def update(self, snap: Snapshot, now: int) -> None:
        """A new look at the player at *now* (ms)."""
        self._update(snap, now)
        self._seen = snap
        self._seen_at = now

    def _update(self, snap: Snapshot, now: int) -> None:
        cur = self.current
        if cur is not None and self._other_track(cur, snap):
            self._end(now, stopped=snap.status == "stopped")
        elif cur is not None and snap.status == "stopped":
            self._end(now, stopped=True)
        elif cur is not None:
            self._same_track(snap, now)
            return
        if self.current is None and snap.key is not None and snap.status == "playing":
            self._begin(snap, now)  # a track first seen paused is a play once it plays

    def seeked(self, position_ms: int, now: int) -> None:
        """The player says it jumped to *position_ms*."""
        if self.current is not None:
            self._sample(position_ms, now, seek=True)

    def vanished(self, now: int) -> None:
        """The player went away: the track playing ends as stopped (unless at its end)."""
        if self.current is not None:
            self._end(now, stopped=True)
        self._seen = None  # the next look joins afresh

    def position_now(self, now: int) -> int:
        """Where the track is now, by the last position and the time since."""
        pos = self._pos + (now - self._at if self._playing else 0)
        length = self.current.length_ms if self.current is not None else None
        return min(pos, length) if length else pos

    def heard_now(self, now: int) -> int:
        return self.heard + (now - self._at if self._playing and self.current else 0)

    # -- inside ----------------------------------------------------------------------
    @staticmethod
    def _other_track(cur: Snapshot, snap: Snapshot) -> bool:
        if snap.key != cur.key:
            return True
        return (
            snap.instance is not None
            and cur.instance is not None
            and (snap.instance != cur.instance)
        )

    def _begin(self, snap: Snapshot, now: int) -> None:
        self.current = snap
        self._bad_length = False
        self._pos = max(0, snap.position_ms or 0)
        seen = self._seen
        if seen is not None and seen.key == snap.key and seen.status != "playing":
            # resumed from pause (or stop): only what played since counts
            self.heard = max(0, min(self._pos - (seen.position_ms or 0), now - self._seen_at))
        elif seen is not None:  # it began while we watched: all of it was heard
            self.heard = min(self._pos, max(0, now - self._seen_at) + SEEK_SLACK_MS)
        else:  # the first look (joining mid-track): only a track that just began counts
            self.heard = self._pos if self._pos <= JOINED_MS else 0
        self._at = now
        self._playing = snap.status == "playing"
        self.on_start(snap)

    def _same_track(self, snap: Snapshot, now: int) -> None:
        cur = self.current
        assert cur is not None
        length = snap.length_ms or cur.length_ms
        pos = snap.position_ms
        moved = snap.length_ms and cur.length_ms and abs(snap.length_ms - cur.length_ms) > 500
        if moved or (length and pos is not None and pos > length + SEEK_SLACK_MS):
            self._bad_length = True  # a length that grows or is played past: a stream's
        if self._bad_length:
            length = None
        if pos is not None and length and pos < RESTART_MS:
            predicted = self.position_now(now)
            if predicted >= length - NEAR_END_MS and predicted - pos > SEEK_SLACK_MS:
                self._end(now, stopped=False)  # repeat: played through, starts again
                self._begin(snap, now)
                return
        self._sample(pos, now)
        self._playing = snap.status == "playing"
        self.current = replace(
            snap,
            length_ms=None if self._bad_length else length,
            tags=snap.tags or cur.tags,
            path=snap.path or cur.path,
            instance=snap.instance if snap.instance is not None else cur.instance,
        )

    def _sample(self, pos: int | None, now: int, *, seek: bool = False) -> None:
        wall = max(0, now - self._at) if self._playing else 0
        if pos is None:
            self.heard += wall
            self._pos += wall
        else:
            delta = pos - self._pos
            if not seek and -SEEK_SLACK_MS <= delta <= wall + SEEK_SLACK_MS:
                self.heard += max(0, min(delta, wall + SEEK_SLACK_MS))
            else:  # a seek: what played before it counts, the jump does not
                self.heard += wall
            self._pos = max(0, pos)
        self._at = now

    def _end(self, now: int, *, stopped: bool) -> None:
        cur = self.current
        assert cur is not None
        pos = self.position_now(now)
        self._sample(pos, now)
        length = cur.length_ms
        if length and pos >= length - NEAR_END_MS:
            reason = "completed"
        elif stopped:
            reason = "stopped"
        elif length:
            reason = "skipped"
        else:
            reason = default_reason(self.heard, None)
        heard = self.heard
        self.current = None
        self.heard = 0
        self._playing = False
        self.on_end(cur, heard, reason)
