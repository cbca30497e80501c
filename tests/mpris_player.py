"""Test harness: the reference player, offscreen, on whatever session bus it was started on.

``python mpris_player.py DB INI PATH...`` opens the player on the database *DB* (window
state in *INI*), queues the files and prints one JSON line per event on stdout: ``ready``
(with the bus name it took and its pid), ``started`` (path), ``state``
(playing/paused/stopped), ``volume`` (the window's slider, percent) and ``raised``. SIGUSR1
drags the window's position slider to 5 s, as a listener would. It exits when the window
closes (MPRIS ``Quit``).
"""

from __future__ import annotations

import json
import os
import signal
import sys

from PySide6.QtCore import QObject, QSettings, QTimer

from player_plugin.cli.gui import _app, open_player


class Reporter(QObject):
    def say(self, **fields) -> None:
        print(json.dumps(fields), flush=True)

    def started(self, path: bytes) -> None:
        self.say(event="started", path=os.fsdecode(path))

    def state(self, state: str) -> None:
        self.say(event="state", state=state)

    def volume(self, percent: int) -> None:
        self.say(event="volume", percent=percent)

    def raised(self) -> None:
        self.say(event="raised")


def drag_slider(window, ms: int) -> None:
    """Press the position slider, move it to *ms*, let go."""
    window.seek.setSliderDown(True)
    window.seek.setSliderPosition(ms)
    window.seek.setSliderDown(False)


def main() -> int:
    db, ini, *paths = sys.argv[1:]
    window = open_player(db, settings=QSettings(ini, QSettings.Format.IniFormat))
    reporter = Reporter(window)
    window.player.track_started.connect(reporter.started)
    window.player.state_changed.connect(reporter.state)
    window.volume.valueChanged.connect(reporter.volume)
    window.desktop.mpris.raise_requested.connect(reporter.raised)
    for path in paths:
        window.player.enqueue(os.fsencode(path))
    window.show()
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    signal.signal(signal.SIGUSR1, lambda *_: drag_slider(window, 5_000))
    wake = QTimer(window)  # Python runs signal handlers only when it gets control
    wake.timeout.connect(lambda: None)
    wake.start(50)
    reporter.say(event="ready", bus=window.desktop.mpris.bus_name, address=address, pid=os.getpid())
    return _app().exec()


if __name__ == "__main__":
    sys.exit(main())
