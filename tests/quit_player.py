"""Start the full reference player (``segue gui``), busy, and quit it as a user would.

Run by tests/test_player_quit.py as a subprocess::

    python tests/quit_player.py DB DELAY_MS MODE

The player opens on *DB* (plugin docked, suggestions loading); right away the model report,
the import wizard and the settings dialog open and close, and a rescan and an audio
analysis start; *DELAY_MS* later the window quits by *MODE*: ``action`` (File ▸ Quit
triggered), ``close`` (the window's close button: ``close()``) or ``signal`` (the process
sends itself SIGTERM, as a session manager would). The exit status is ``segue gui``'s;
the window state goes where QSettings puts it (the test sets ``XDG_CONFIG_HOME``).
"""

from __future__ import annotations

import gc
import os
import signal
import sys

import shiboken6
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from player_plugin.cli import main
from player_plugin.ui.player_window import PlayerWindow


def live_python_owned(objects) -> list[str]:
    """The Qt objects among *objects* that Python owns and that are still alive (deleting
    their wrapper deletes them), but the application itself."""
    return sorted(
        type(o).__name__
        for o in objects
        if isinstance(o, QObject)
        and o is not QApplication.instance()
        and shiboken6.isValid(o)
        and shiboken6.ownedByPython(o)
    )


def leftover_qt_objects() -> list[str]:
    """Live Python-owned Qt objects left after the player returned: in reference cycles
    (Python's collector would destroy them wherever it next runs, on any thread) or still
    referenced (Python's teardown would delete them)."""
    gc.set_debug(gc.DEBUG_SAVEALL)  # cyclic garbage goes to gc.garbage, not freed
    gc.collect()
    gc.set_debug(0)
    in_cycles = live_python_owned(gc.garbage)
    gc.garbage.clear()
    gc.collect()
    return in_cycles + live_python_owned(gc.get_objects())


def window() -> PlayerWindow:
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, PlayerWindow))


def busy(delay: int, mode: str) -> None:
    """A long session in brief: the dialogs opened and closed, then a rescan, an analysis
    and suggestions started; the quit comes *delay* ms later."""
    w = window()
    actions = w.plugin.actions
    actions["report"].trigger()
    w.plugin.report.close()
    actions["import"].trigger()
    w.plugin.wizard.reject()
    QTimer.singleShot(0, lambda: QApplication.activeModalWidget().reject())
    actions["settings"].trigger()  # modal: rejected from the event loop
    w.rescan()
    w.analyse()
    w.plugin.refresh()
    QTimer.singleShot(delay, lambda: quit_by(mode))


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
    db, delay, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    app = QApplication(sys.argv[:1])
    QTimer.singleShot(0, lambda: busy(delay, mode))
    status = main(["--db", db, "gui"])
    left = leftover_qt_objects()
    if left:
        print(f"quit_player: Qt objects left for Python's teardown: {left}", file=sys.stderr)
    sys.exit(status)
