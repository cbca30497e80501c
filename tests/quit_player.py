"""Start the full reference player (``segue gui``), busy, and quit it as a user would.

Run by tests/test_player_quit.py as a subprocess::

    python tests/quit_player.py DB SETTINGS_INI DELAY_MS MODE

The player opens on *DB* (plugin docked, suggestions loading); right away a rescan and an
audio analysis start; after *DELAY_MS* the window quits by *MODE*: ``action`` (File ▸ Quit
triggered), ``close`` (the window's close button: ``close()``) or ``signal`` (the process
sends itself SIGTERM, as a session manager would). The exit status is ``segue gui``'s.
"""

from __future__ import annotations

import os
import signal
import sys

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from player_plugin.cli import main
from player_plugin.ui.player_window import PlayerWindow


def window() -> PlayerWindow:
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, PlayerWindow))


def busy() -> None:
    w = window()
    w.rescan()
    w.analyse()
    w.plugin.refresh()


def quit_by(mode: str) -> None:
    if mode == "action":
        window().quit_action.trigger()
    elif mode == "close":
        window().close()
    else:
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    db, ini, delay, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    app = QApplication(sys.argv[:1])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ini)
    QTimer.singleShot(0, busy)
    QTimer.singleShot(delay, lambda: quit_by(mode))
    sys.exit(main(["--db", db, "gui"]))
