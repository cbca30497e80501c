"""Start the full reference player (``segue gui``) and change or report its state.

Run by tests/test_player_state.py as a subprocess::

    python tests/state_player.py DB change   # queue, play + seek + pause, volume, modes;
                                             # prints "saved" once written, then waits
    python tests/state_player.py DB report   # prints the restored state as JSON, quits

The *change* run is killed with SIGKILL by the test: nothing it did may depend on a quit.
"""

from __future__ import annotations

import json
import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from player_plugin.cli import main
from player_plugin.store.db import open_db
from player_plugin.ui.player_window import PlayerWindow

SEEK_MS = 4_000


def window() -> PlayerWindow:
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, PlayerWindow))


def paths(db_path: str) -> list[bytes]:
    db = open_db(db_path)
    try:
        return [bytes(r[0]) for r in db.execute("SELECT path FROM tracks ORDER BY path")]
    finally:
        db.close()


def change(db_path: str) -> None:
    w = window()
    tracks = paths(db_path)
    w.player.play_path(tracks[0])
    for path in tracks[1:4]:
        w.player.enqueue(path)
    w.volume.setValue(37)
    w.player.set_shuffle("plain")
    w.player.set_repeat("all")
    w.resize(760, 540)
    poll = QTimer(w)

    def when_playing() -> None:
        if w.player.state == "playing" and w.player.media.duration() > 0:
            w.player.seek(SEEK_MS)
            w.player.pause()
            poll.timeout.disconnect(when_playing)
            poll.timeout.connect(when_saved)

    def when_saved() -> None:
        state = w.player_state()
        if abs(state.position_ms - SEEK_MS) < 1000 and w.keeper.writes and not w.keeper.busy:
            poll.stop()
            print("saved", json.dumps(_plain(w)), flush=True)  # and wait for SIGKILL

    poll.timeout.connect(when_playing)
    poll.start(50)


def _plain(w: PlayerWindow) -> dict:
    state = w.player_state()
    cued = w.player.cued_track()
    return {
        "queue": [os.fsdecode(p) for p in state.queue],
        "current": os.fsdecode(state.current) if state.current else None,
        "cued": cued is not None,
        "playing": w.player.state,
        "position_ms": state.position_ms,
        "volume": w.volume.value(),
        "shuffle": w.player.shuffle,
        "repeat": w.player.repeat,
        "size": [w.width(), w.height()],
        "now": w.now_title.text(),
        "marked": w.model.playing is not None,
    }


def report() -> None:
    w = window()
    print("restored", json.dumps(_plain(w)), flush=True)
    w.close()


if __name__ == "__main__":
    db, mode = sys.argv[1], sys.argv[2]
    app = QApplication(sys.argv[:1])
    QTimer.singleShot(0, lambda: change(db) if mode == "change" else report())
    sys.exit(main(["--db", db, "gui"]))
