"""The Host protocol: what any player gives the Segue plugin (DESIGN.md, the plugin contract).

A host emits three signals and answers three calls; it never touches the database. The
plugin logs every play from ``track_started`` / ``track_ended`` and feeds suggestions back
through ``enqueue``. Paths are the file name's bytes (``player_plugin.domain.paths``); a host
that has ``str`` paths passes them through ``os.fsencode``.
"""

from __future__ import annotations

from typing import Literal, get_args

from PySide6.QtCore import QObject, Signal

EndReason = Literal["completed", "skipped", "stopped", "error"]
END_REASONS: tuple[str, ...] = get_args(EndReason)


class Host(QObject):
    """Base class for hosts. Subclass it, implement the three calls, emit the signals.

    - ``track_started(path: bytes)`` when a track begins playing;
    - ``track_ended(path: bytes, ms_heard: int, reason: str)`` when it stops, where reason
      is ``completed`` (played through), ``skipped`` (the user pressed Next/Prev or chose
      another track), ``stopped`` (the user pressed Stop) or ``error``;
    - ``queue_changed()`` whenever the play queue changes.
    """

    track_started = Signal(object)
    track_ended = Signal(object, int, str)
    queue_changed = Signal()

    def current_track(self) -> bytes | None:
        """The path of the track playing (or paused) now, or None."""
        raise NotImplementedError

    def queue(self) -> list[bytes]:
        """The paths still to play after the current track, in order."""
        raise NotImplementedError

    def enqueue(self, path: bytes, *, next: bool = False) -> None:
        """Add *path* to the queue: right after the current track, or at the end."""
        raise NotImplementedError


class ListQueueHost(Host):
    """A host whose queue is a plain list of paths: the three calls, done once."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: bytes | None = None
        self._queue: list[bytes] = []

    def current_track(self) -> bytes | None:
        return self._current

    def queue(self) -> list[bytes]:
        return list(self._queue)

    def enqueue(self, path: bytes, *, next: bool = False) -> None:
        if next:
            self._queue.insert(0, path)
        else:
            self._queue.append(path)
        self.queue_changed.emit()


class MemoryHost(ListQueueHost):
    """A minimal host with a list for a queue: for scripts, tests and as an example.

    ``play(path)`` / ``finish(ms, reason)`` drive it the way a real player would.
    """

    def play(self, path: bytes) -> None:
        """Start *path* (the previous track must have ended)."""
        self._current = path
        self.track_started.emit(path)

    def finish(self, ms_heard: int, reason: str = "completed") -> bytes | None:
        """End the current track; on ``completed`` start the next queued one, if any."""
        path, self._current = self._current, None
        if path is not None:
            self.track_ended.emit(path, int(ms_heard), reason)
        if reason == "completed" and self._queue:
            nxt = self._queue.pop(0)
            self.queue_changed.emit()
            self.play(nxt)
            return nxt
        return None
