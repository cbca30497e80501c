"""The companion window: the plugin's own "Up next" dock beside a player Segue observes.

``segue companion --host mpris[:NAME] | mpd[:HOST:PORT]`` opens it. The host (MPRIS or MPD)
reports plays; the :class:`~player_plugin.ui.plugin.SeguePlugin` logs them and shows the
suggestions, reasons, actions and the model report as in the reference player. When
another Segue process already logs this player (``segue listen``), the window only shows
suggestions and logs nothing, so no play is written twice. A player that cannot queue
(MPRIS without ``TrackList``) gets suggestions but no auto-play. Above the player's state
it names the track playing (the library's tags, else the player's, else the file name):
what the suggestions follow.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow

from player_plugin.hosts.base import Host
from player_plugin.store import library_view
from player_plugin.ui.plugin import SeguePlugin

log = logging.getLogger(__name__)


class CompanionWindow(QMainWindow):
    """A small window holding the Up next dock for *host*; closes cleanly."""

    def __init__(self, host: Host, db_path: str, label: str, *, logging_plays: bool) -> None:
        super().__init__()
        self.host = host
        self.setWindowTitle(f"Segue — {label}")
        self.resize(420, 640)
        self.plugin = SeguePlugin(host, db_path, self)
        self.logging_plays = logging_plays
        if not logging_plays:  # another process logs this player: show, do not write
            host.track_started.disconnect(self.plugin._track_started)
            host.track_ended.disconnect(self.plugin._track_ended)
            host.track_started.connect(lambda _path: self.plugin.refresh())
        if not getattr(host, "can_queue", True):
            self.plugin.prefs.autoplay = False  # this player cannot take a queued track
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self.note)
        self.plugin.install(self)
        self.plugin.status.connect(self.statusBar().showMessage)
        self.playing = "Nothing playing"
        self._line = ""
        host.track_started.connect(self._track_started)
        host.track_ended.connect(self._track_ended)
        state = getattr(host, "state_changed", None)
        if state is not None:
            state.connect(self._state)
        self._state(f"Waiting for {label}…")

    def _state(self, line: str) -> None:
        self._line = line
        self.statusBar().showMessage(line)
        self._show()

    def _show(self) -> None:
        queue_note = (
            ""
            if getattr(self.host, "can_queue", True)
            else ("\nThis player cannot queue: use the suggestions by hand.")
        )
        shared = "" if self.logging_plays else "\nAnother Segue process logs these plays."
        self.note.setText(f"{self.playing}\n\n{self._line}{queue_note}{shared}")

    def describe(self, path: bytes) -> str:
        """ "Now playing: Title\nArtist — Album" for *path*, from the library, else from
        what the player says, else the file name."""
        found = library_view.track_words(self.plugin.db, bytes(path))
        if found is not None:
            title, detail = found
        else:
            tags = getattr(self.host, "track_tags", lambda _path: None)(bytes(path))
            title = getattr(tags, "title", None) or os.fsdecode(os.path.basename(bytes(path)))
            detail = " — ".join(
                x for x in (getattr(tags, "artist", None), getattr(tags, "album", None)) if x
            )
        return f"Now playing: {title}" + (f"\n{detail}" if detail else "")

    def _track_started(self, path: bytes) -> None:
        self.playing = self.describe(path)
        self._show()

    def _track_ended(self, *_ended: object) -> None:
        if self.host.current_track() is None:
            self.playing = "Nothing playing"
            self._show()

    def closeEvent(self, event: QCloseEvent) -> None:
        stop = getattr(self.host, "stop", None)  # observer hosts own a worker thread
        if stop is not None:
            stop()
        self.plugin.shutdown()
        super().closeEvent(event)
