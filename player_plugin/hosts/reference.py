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

from PySide6.QtCore import QCoreApplication, QObject, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

from player_plugin.hosts.base import ListQueueHost

log = logging.getLogger(__name__)

SEEK_JUMP_MS = 1500  # a position jump larger than this is a seek, not listening
RESTART_MS = 3000  # Previous after this long restarts the track instead


_SHARED: list[QMediaPlayer] = []


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

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.media = shared_media_player()
        self.media.stop()
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

    # -- queue editing ----------------------------------------------------------------
    def remove(self, index: int) -> None:
        if 0 <= index < len(self._queue):
            del self._queue[index]
            self.queue_changed.emit()

    def move(self, src: int, dst: int) -> None:
        if 0 <= src < len(self._queue) and 0 <= dst < len(self._queue) and src != dst:
            self._queue.insert(dst, self._queue.pop(src))
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
        """Resume, or start the queue when nothing is loaded."""
        if self._current is None:
            self.next()
        else:
            self.media.play()

    def pause(self) -> None:
        self.media.pause()

    def toggle(self) -> None:
        if self.state == "playing":
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        self._end("stopped")
        self.media.stop()
        self.state_changed.emit("stopped")

    def next(self) -> None:
        self._end("skipped")
        self._advance()

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
        self._last_pos = max(0, int(ms))
        self.media.setPosition(max(0, int(ms)))

    def set_volume(self, percent: int) -> None:
        self.audio.setVolume(max(0, min(100, percent)) / 100)

    def volume(self) -> int:
        return round(self.audio.volume() * 100)

    def shutdown(self) -> None:
        """End the current play as stopped (on window close) so nothing is lost, and let
        go of the shared media player."""
        self._end("stopped")
        self.media.stop()
        for signal, slot in self._connections:
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                signal.disconnect(slot)
        self._connections = []

    # -- internals --------------------------------------------------------------------
    def _start(self, path: bytes) -> None:
        self._current = path
        self._heard = 0
        self._last_pos = 0
        self.media.setSource(QUrl.fromLocalFile(os.fsdecode(path)))
        self.media.play()
        self.track_started.emit(path)

    def _advance(self) -> None:
        if self._queue:
            path = self._queue.pop(0)
            self.queue_changed.emit()
            self._start(path)
        else:
            self.media.stop()
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
        if status == QMediaPlayer.MediaStatus.EndOfMedia and self._current is not None:
            duration = self.media.duration()
            if duration > 0 and self._last_pos < duration:
                self._heard += min(SEEK_JUMP_MS, duration - self._last_pos)
            self._end("completed")
            self._advance()
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
