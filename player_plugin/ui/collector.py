"""Python's cyclic garbage collection, run only where Qt is safe: from the GUI event loop.

Left automatic, a collection starts at whatever allocation trips its threshold and
destroys the Qt objects of garbage cycles right there. Both places deadlocked in the
tests: on a pool thread (``~QObject`` waited for the GIL while holding Qt's connection
lock, and the GUI thread held the GIL in ``QObject::connect``), and inside a Qt destructor
on the GUI thread (shiboken allocated while Qt held a connection lock; the collection's
own ``~QObject`` then waited for that lock). :func:`install` turns automatic collection
off and runs the same collections from a timer on the GUI thread, when a generation's
count passes its threshold, as Python itself would (pyqtgraph's ``GarbageCollector``
does the same).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer
from shiboken6 import isValid

INTERVAL_MS = 500

_installed: list[QObject] = []  # the collector, once installed


class _Collector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(INTERVAL_MS)

    def check(self) -> None:
        """Collect the oldest generation whose count has passed its threshold."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return


def install() -> None:
    """Collect from the GUI event loop from now on (call it on the GUI thread, with the Qt
    application made; again after a new application, a no-op otherwise)."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("the Qt application must exist before the collector")
    if _installed and isValid(_installed[0]):
        return
    _installed[:] = [_Collector(app)]
    gc.disable()
