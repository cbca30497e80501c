"""Keeps the reference player's state as it changes, so a restart or a kill loses
nothing: queue, the track and where it was, volume, shuffle and repeat in the store
(:mod:`player_plugin.app.player_state`), the window's geometry in its QSettings.

Changes are gathered for ``SAVE_MS`` and written on the thread pool, one write at a time
(a newer state waits for the write in flight, so an older one never lands last)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from player_plugin.app.player_state import PlayerState, save_state, save_state_at
from player_plugin.ui.workers import TaskRunner

log = logging.getLogger(__name__)

SAVE_MS = 500
POSITION_SAVE_MS = 5000  # the position alone, while playing: every few seconds is plenty


class StateKeeper(QObject):
    """``changed()`` after anything worth keeping; ``flush(db)`` on quit."""

    def __init__(
        self,
        db_path: str,
        runner: TaskRunner,
        snapshot: Callable[[], PlayerState],
        save_window: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.db_path = db_path
        self.runner = runner
        self.snapshot = snapshot
        self.save_window = save_window
        self.writes = 0  # states written (for tests and the log)
        self._writing = False
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_MS)
        self._timer.timeout.connect(self._save)
        self._slow = QTimer(self)
        self._slow.setSingleShot(True)
        self._slow.setInterval(POSITION_SAVE_MS)
        self._slow.timeout.connect(self._save)
        self.enabled = False  # on once the restored state is in place

    @property
    def busy(self) -> bool:
        """A change not written yet (waiting, or being written)."""
        return self._timer.isActive() or self._slow.isActive() or self._writing or self._dirty

    def changed(self, *_: object) -> None:
        if self.enabled and not self._timer.isActive():
            self._timer.start()

    def moved(self, *_: object) -> None:
        """The position moved (as it does while playing): saved within a few seconds."""
        if self.enabled and not self._slow.isActive() and not self._timer.isActive():
            self._slow.start()

    def _save(self) -> None:
        if self._writing:  # one write at a time: this state follows the one in flight
            self._dirty = True
            return
        self._dirty = False
        self._writing = True
        self._slow.stop()
        state, db_path = self.snapshot(), self.db_path
        self.save_window()
        self.runner.run_task(
            lambda: save_state_at(db_path, state), self._saved, on_error=self._failed
        )

    def _saved(self, _result: object) -> None:
        self._writing = False
        self.writes += 1
        if self._dirty:
            self._save()

    def _failed(self, message: str) -> None:
        log.warning("the player's state was not saved: %s", message)
        self._writing = False
        if self._dirty:
            self._save()

    def flush(self, db, state: PlayerState) -> None:
        """Write *state* now, on this thread (at quit, after the pool has stopped)."""
        self._timer.stop()
        self._slow.stop()
        self.enabled = False
        save_state(db, state)
