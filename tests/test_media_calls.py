"""The reference host calls QtMultimedia's slots with Python's interpreter lock released.

QtMultimedia's threads call back into the Python wrappers of the player and its audio
output while holding a Qt mutex; a call into the player made holding the interpreter lock
can wait on that mutex for ever (the player hung on quit). ``released`` is how the host
calls the player: here a slot that runs a while in C++ (a dialog's event loop, ended by a
C++ timer, so no Python runs inside it) lets another Python thread run during the call.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import SIGNAL, SLOT, QObject, QTimer
from PySide6.QtWidgets import QDialog

from player_plugin.hosts.reference import released


def test_a_released_call_lets_python_threads_run_during_it(qtbot):
    dialog = QDialog()
    qtbot.addWidget(dialog)
    go, ran_at = threading.Event(), []

    def other() -> None:
        go.wait()  # returns only once it has the interpreter lock
        ran_at.append(time.monotonic())

    thread = threading.Thread(target=other)
    thread.start()
    # C++ to C++, no Python in the call: the dialog's own event loop starts the 300 ms
    # (counted from before the call, a pause here used them up: the call returned at once)
    timer = QTimer(dialog)
    timer.setSingleShot(True)
    timer.setInterval(300)
    QObject.connect(timer, SIGNAL("timeout()"), dialog, SLOT("accept()"))
    QTimer.singleShot(0, timer, SLOT("start()"))
    go.set()
    released(dialog, "exec")
    returned_at = time.monotonic()
    thread.join(5)
    assert ran_at and ran_at[0] < returned_at - 0.1, (ran_at, returned_at)
