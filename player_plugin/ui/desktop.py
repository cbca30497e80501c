"""The reference player as a desktop citizen: its MPRIS service and "now playing" notices.

:class:`DesktopIntegration` is attached to the player window with one line; it publishes
the window's player on MPRIS (:mod:`player_plugin.hosts.mpris_service`), keeps the
window's volume slider and the desktop's volume in step, raises or quits the window when
the desktop asks, and shows a notification on each track change when the listener switched
``notify_track_change`` on. It holds no reference to the window (no reference cycle): only
Qt connections to the window's own methods. It reads track tags through its own read
connection to the store, closed by :meth:`close`.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import sqlite_utils
from PySide6.QtCore import QObject

from player_plugin.app.settings import Settings
from player_plugin.hosts.mpris_service import MprisService, TrackInfo
from player_plugin.hosts.notify import Notifier
from player_plugin.store import library_view
from player_plugin.store.db import open_db

if TYPE_CHECKING:
    from player_plugin.ui.player_window import PlayerWindow

log = logging.getLogger(__name__)


class DesktopIntegration(QObject):
    """MPRIS and notifications for *window* (a :class:`PlayerWindow`)."""

    def __init__(self, window: PlayerWindow) -> None:
        super().__init__(window)
        self._db: sqlite_utils.Database | None = open_db(window.db_path)
        self.mpris = MprisService(window.player, self.describe, self)
        self.notifier = Notifier(parent=self)
        self.mpris.volume_requested.connect(window.volume.setValue)
        self.mpris.raise_requested.connect(window.showNormal)
        self.mpris.raise_requested.connect(window.raise_)
        self.mpris.raise_requested.connect(window.activateWindow)
        self.mpris.quit_requested.connect(window.close)
        window.volume.valueChanged.connect(self.mpris.volume_changed)
        window.player.track_started.connect(self._track_started)
        self.published = self.mpris.publish()

    def describe(self, path: bytes) -> TrackInfo | None:
        if self._db is None:
            return None
        track = library_view.track_brief(self._db, path)
        if track is None:
            return None
        return TrackInfo(
            title=track["title"],
            artist=track["artist"],
            album=track["album"],
            length_ms=track["duration_ms"],
        )

    def _track_started(self, path: bytes) -> None:
        if self._db is None or not Settings.load(self._db).notify_track_change:
            return
        info = self.describe(path) or TrackInfo()
        title = info.title or os.fsdecode(os.path.basename(path))
        body = " — ".join(x for x in (info.artist, info.album) if x)
        self.notifier.notify(title, body)

    def close(self) -> None:
        """Leave the session bus and close the read connection (the window is closing)."""
        self.mpris.close()
        if self._db is not None:
            self._db.close()
            self._db = None
