"""The reference player's engine: QtMultimedia playback with a queue, as a Segue Host.

One ``QMediaPlayer`` per process, created once and reused for every file and by every
ReferencePlayer (a new player per file hung or crashed about one run in three without an
audio device). The engine measures how much of
each track was heard (seeks do not count) and says how each track ended: ``completed``
at the end of the media, ``skipped`` on Next/Previous/another pick, ``stopped`` on Stop,
``error`` when the file cannot be played.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random

from PySide6.QtCore import (
    Q_ARG,
    QCoreApplication,
    QGenericArgumentHolder,
    QMetaObject,
    QObject,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

from player_plugin.hosts.base import ListQueueHost

log = logging.getLogger(__name__)

SEEK_JUMP_MS = 1500  # a position jump larger than this is a seek, not listening
RESTART_MS = 3000  # Previous after this long restarts the track instead
SHUFFLE_MODES = ("off", "plain", "smart")  # smart: the window names the next track
REPEAT_MODES = ("off", "one", "all")


_SHARED: list[QMediaPlayer] = []


def released(target: QObject, slot: str, *args: QGenericArgumentHolder) -> None:
    """Call *target*'s *slot* now, with Python's interpreter lock released.

    QtMultimedia's own threads call back into the Python wrappers of the player and its
    audio output (``disconnectNotify`` as they delete their renderers, with a Qt mutex
    held) and need the interpreter lock to do so; a plain ``media.stop()`` holds that lock
    while it waits on the same mutex, and the player hung on quit (seen here: window
    closed while a track started without an audio device). ``QMetaObject.invokeMethod``
    releases the lock around the call (PySide marks ``setSource`` so for this reason)."""
    direct = Qt.ConnectionType.DirectConnection
    QMetaObject.invokeMethod(target, slot, direct, *args)


def shared_media_player() -> QMediaPlayer:
    """The process's one QMediaPlayer (with its audio output), owned by the application
    object so that Qt deletes it in order at exit."""
    if not _SHARED:
        media = QMediaPlayer(QCoreApplication.instance())
        media.setAudioOutput(QAudioOutput(media))
        _SHARED.append(media)
    return _SHARED[0]


class ReferencePlayer(ListQueueHost):
    """Playback, queue and history; emits the Host signals the plugin logs from."""

    position_changed = Signal(int)
    duration_changed = Signal(int)
    state_changed = Signal(str)  # "playing", "paused", "stopped"
    error = Signal(str)
    modes_changed = Signal()  # shuffle or repeat changed
    cued = Signal(object)  # a track waits, paused, to resume where it was (restored state)
    seeked = Signal(int)  # the playing track jumped to this position (ms), whoever asked

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.media = shared_media_player()
        released(self.media, "stop")
        self.audio = self.media.audioOutput()
        self._connections = [
            (self.media.mediaStatusChanged, self._status),
            (self.media.positionChanged, self._position),
            (self.media.durationChanged, self._duration),
            (self.media.playbackStateChanged, self._state),
            (self.media.errorOccurred, self._error),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        self._history: list[bytes] = []
        self._heard = 0
        self._last_pos = 0
        self.sources: dict[bytes, str] = {}
        self.shuffle = "off"
        self.repeat = "off"
        self.preferred_next: bytes | None = None  # smart shuffle's pick (set by the window)
        self._cued: tuple[bytes, int] | None = None
        self._pending_seek = 0
        self._random = random.Random()

    # -- modes and restored state -----------------------------------------------------
    def set_shuffle(self, mode: str) -> None:
        """``off``, ``plain`` (a random queued track next) or ``smart`` (the track in
        ``preferred_next`` when it is queued or the queue is empty, else a random one)."""
        mode = mode if mode in SHUFFLE_MODES else "off"
        if mode != self.shuffle:
            self.shuffle = mode
            self.modes_changed.emit()

    def set_repeat(self, mode: str) -> None:
        """``off``, ``one`` (a finished track plays again) or ``all`` (every track that
        ends goes back to the end of the queue)."""
        mode = mode if mode in REPEAT_MODES else "off"
        if mode != self.repeat:
            self.repeat = mode
            self.modes_changed.emit()

    def cue(self, path: bytes, position_ms: int = 0) -> None:
        """Load *path* paused at *position_ms*, as it was before a restart: nothing is
        logged until Play starts it (a new play from that position)."""
        self._end("stopped")
        self._cued = (bytes(path), max(0, int(position_ms)))
        self.cued.emit(bytes(path))
        self.position_changed.emit(self._cued[1])

    def cued_track(self) -> tuple[bytes, int] | None:
        return self._cued

    def position(self) -> int:
        if self._current is None:
            return self._cued[1] if self._cued else 0
        return int(self.media.position())

    def snapshot(self) -> dict:
        """What to restore after a restart: plain data (paths as bytes)."""
        current = (
            self._current if self._current is not None else (self._cued[0] if self._cued else None)
        )
        return {
            "queue": list(self._queue),
            "current": current,
            "position_ms": self.position(),
            "volume": self.volume(),
            "shuffle": self.shuffle,
            "repeat": self.repeat,
        }

    # -- queue editing ----------------------------------------------------------------
    def remove(self, index: int) -> None:
        if 0 <= index < len(self._queue):
            del self._queue[index]
            self.queue_changed.emit()

    def move(self, src: int, dst: int) -> None:
        if 0 <= src < len(self._queue) and 0 <= dst < len(self._queue) and src != dst:
            self._queue.insert(dst, self._queue.pop(src))
            self.queue_changed.emit()

    def replace_queue(self, paths: list[bytes]) -> None:
        self._queue = [bytes(p) for p in paths]
        self.queue_changed.emit()

    def clear_queue(self) -> None:
        if self._queue:
            self._queue.clear()
            self.queue_changed.emit()

    # -- transport --------------------------------------------------------------------
    @property
    def heard_ms(self) -> int:
        return self._heard

    @property
    def state(self) -> str:
        return {
            QMediaPlayer.PlaybackState.PlayingState: "playing",
            QMediaPlayer.PlaybackState.PausedState: "paused",
        }.get(self.media.playbackState(), "stopped")

    def play_path(self, path: bytes) -> None:
        """Play *path* now; the track playing is ended as skipped."""
        self._end("skipped")
        self._start(path)

    def play(self) -> None:
        """Resume, or start the cued track (where it was), or start the queue."""
        if self._current is None and self._cued is not None:
            path, position = self._cued
            self._start(path, position)
        elif self._current is None:
            self.next()
        else:
            released(self.media, "play")

    def pause(self) -> None:
        released(self.media, "pause")

    def toggle(self) -> None:
        if self.state == "playing":
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        self._end("stopped")
        released(self.media, "stop")
        self.state_changed.emit("stopped")

    def next(self) -> None:
        ended = self._current
        self._end("skipped")
        self._advance(ended)

    def previous(self) -> None:
        """Restart the track after a few seconds; otherwise go back one track."""
        if self._current is not None and self.media.position() > RESTART_MS:
            self.seek(0)
            return
        if not self._history:
            return
        current = self._current
        self._end("skipped")
        if current is not None:
            self._history.pop()  # _end remembered it; it goes back to the queue instead
            self._queue.insert(0, current)
            self.queue_changed.emit()
        self._start(self._history.pop())

    def seek(self, ms: int) -> None:
        if self._current is None and self._cued is not None:
            self._cued = (self._cued[0], max(0, int(ms)))
            return
        self._last_pos = max(0, int(ms))
        released(self.media, "setPosition", Q_ARG("qint64", max(0, int(ms))))
        if self._current is not None:
            self.seeked.emit(self._last_pos)

    def set_volume(self, percent: int) -> None:
        released(self.audio, "setVolume", Q_ARG("float", max(0, min(100, percent)) / 100))

    def volume(self) -> int:
        return round(self.audio.volume() * 100)

    def shutdown(self) -> None:
        """End the current play as stopped (on window close) so nothing is lost, and let
        go of the shared media player."""
        self._end("stopped")
        # disconnected before the stop, which sets QtMultimedia's threads deleting their
        # renderers (a disconnection holding the interpreter lock could wait on them)
        for signal, slot in self._connections:
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                signal.disconnect(slot)
        self._connections = []
        released(self.media, "stop")

    # -- internals --------------------------------------------------------------------
    def _start(self, path: bytes, position_ms: int = 0) -> None:
        self._cued = None
        self._current = path
        self._heard = 0
        self._last_pos = position_ms
        self._pending_seek = position_ms
        self.media.setSource(QUrl.fromLocalFile(os.fsdecode(path)))
        if position_ms:
            released(self.media, "setPosition", Q_ARG("qint64", position_ms))
        released(self.media, "play")
        self.track_started.emit(path)

    def _next_index(self) -> int:
        """Which queued track plays next, by the shuffle mode."""
        if self.shuffle == "smart" and self.preferred_next in self._queue:
            return self._queue.index(self.preferred_next)
        if self.shuffle in ("plain", "smart") and len(self._queue) > 1:
            return self._random.randrange(len(self._queue))
        return 0

    def _advance(self, ended: bytes | None = None) -> None:
        """Start the next track; *ended* is the one that just ended (for repeat)."""
        if ended is not None and self.repeat == "all":
            self._queue.append(ended)
        if self._queue:
            path = self._queue.pop(self._next_index())
            self.queue_changed.emit()
            self._start(path)
        elif self.shuffle == "smart" and self.preferred_next is not None:
            path, self.preferred_next = self.preferred_next, None
            self._start(path)
        else:
            released(self.media, "stop")
            self.state_changed.emit("stopped")

    def _end(self, reason: str) -> None:
        path = self._current
        if path is None:
            return
        self._history.append(path)
        self._current = None
        heard = self._heard
        self.track_ended.emit(path, int(heard), reason)

    def _duration(self, ms: int) -> None:
        self.duration_changed.emit(int(ms))

    def _position(self, pos: int) -> None:
        delta = pos - self._last_pos
        if 0 < delta <= SEEK_JUMP_MS:
            self._heard += delta
        self._last_pos = pos
        self.position_changed.emit(pos)

    def _status(self, status: QMediaPlayer.MediaStatus) -> None:
        if self._pending_seek and status in (
            QMediaPlayer.MediaStatus.LoadedMedia,
            QMediaPlayer.MediaStatus.BufferedMedia,
        ):  # a restored position: applied once the media can seek
            position, self._pending_seek = self._pending_seek, 0
            if abs(self.media.position() - position) > SEEK_JUMP_MS:
                released(self.media, "setPosition", Q_ARG("qint64", position))
        if status == QMediaPlayer.MediaStatus.EndOfMedia and self._current is not None:
            duration = self.media.duration()
            if duration > 0 and self._last_pos < duration:
                self._heard += min(SEEK_JUMP_MS, duration - self._last_pos)
            ended = self._current
            self._end("completed")
            if self.repeat == "one":
                self._start(ended)
            else:
                self._advance(ended)
        elif status == QMediaPlayer.MediaStatus.InvalidMedia and self._current is not None:
            self._fail(self.media.errorString() or "cannot play this file")

    def _state(self, state: QMediaPlayer.PlaybackState) -> None:
        self.state_changed.emit(self.state)

    def _error(self, error: QMediaPlayer.Error, message: str) -> None:
        if error != QMediaPlayer.Error.NoError and self._current is not None:
            self._fail(message or "cannot play this file")

    def _fail(self, message: str) -> None:
        path = self._current
        self._end("error")
        name = os.fsdecode(path or b"").rsplit("/", 1)[-1]
        self.error.emit(f"Cannot play {name}: {message}")
        self._advance()
