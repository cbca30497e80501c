"""Start the full reference player (``segue gui``), busy, and quit it as a user would.

Run by tests/test_player_quit.py as a subprocess::

    python tests/quit_player.py DB SETTINGS_INI DELAY_MS MODE

The player opens on *DB* (plugin docked, suggestions loading); right away a rescan and an
audio analysis start; after *DELAY_MS* the window quits by *MODE*: ``action`` (File ▸ Quit
triggered), ``close`` (the window's close button: ``close()``) or ``signal`` (the process
sends itself SIGTERM, as a session manager would). The exit status is ``segue gui``'s.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

import shiboken6
from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from player_plugin.cli import main
from player_plugin.ui.player_window import PlayerWindow


def leftover_qt_objects() -> list[str]:
    """Live Qt objects that Python owns (so that Python's teardown would delete them), but
    the application itself."""
    gc.collect()
    return sorted(
        type(o).__name__
        for o in gc.get_objects()
        if isinstance(o, QObject)
        and o is not QApplication.instance()
        and shiboken6.isValid(o)
        and shiboken6.ownedByPython(o)
    )


def window() -> PlayerWindow:
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, PlayerWindow))


def busy() -> None:
    w = window()
    w.rescan()
    w.analyse()
    w.plugin.refresh()


def quit_by(mode: str) -> None:
    w = window()
    scan, analysis = int(w._scan_cancel is not None), int(w._analysis_cancel is not None)
    print(f"busy at quit: scan={scan} analysis={analysis} tasks={w.runner.running}", flush=True)
    if mode == "action":
        w.quit_action.trigger()
    elif mode == "close":
        w.close()
    else:
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    db, ini, delay, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    app = QApplication(sys.argv[:1])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ini)
    QTimer.singleShot(0, busy)
    QTimer.singleShot(delay, lambda: quit_by(mode))
    status = main(["--db", db, "gui"])
    left = leftover_qt_objects()
    if left:
        print(f"quit_player: Qt objects left for Python's teardown: {left}", file=sys.stderr)
    sys.exit(status)
