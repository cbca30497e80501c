"""The companion window: the plugin's own "Up next" dock beside a player Segue observes.

``segue companion --host mpris[:NAME] | mpd[:HOST:PORT]`` opens it. The host (MPRIS or MPD)
reports plays; the :class:`~player_plugin.ui.plugin.SeguePlugin` logs them and shows the
suggestions, reasons, actions and the model report as in the reference player. When
another Segue process already logs this player (``segue listen``), the window only shows
suggestions and logs nothing, so no play is written twice. A player that cannot queue
(MPRIS without ``TrackList``) gets suggestions but no auto-play.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow

from player_plugin.hosts.base import Host
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
        state = getattr(host, "state_changed", None)
        if state is not None:
            state.connect(self._state)
        self._state(f"Waiting for {label}…")

    def _state(self, line: str) -> None:
        queue_note = (
            ""
            if getattr(self.host, "can_queue", True)
            else ("\nThis player cannot queue: use the suggestions by hand.")
        )
        shared = "" if self.logging_plays else "\nAnother Segue process logs these plays."
        self.note.setText(line + queue_note + shared)
        self.statusBar().showMessage(line)

    def closeEvent(self, event: QCloseEvent) -> None:
        stop = getattr(self.host, "stop", None)  # observer hosts own a worker thread
        if stop is not None:
            stop()
        self.plugin.shutdown()
        super().closeEvent(event)
