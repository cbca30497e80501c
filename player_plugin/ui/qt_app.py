"""One Qt application object per process, whoever needs Qt first.

Qt allows one application object per process and its kind decides what works later:
QtMultimedia needs any, QPainter text needs a GUI one, widgets need a ``QApplication``. So
every non-GUI user of Qt (the evaluation report's chart, drawn for ``segue evaluate``) calls
:func:`ensure_qt_app`, which makes a ``QApplication`` on the offscreen platform when none
exists yet — headless-safe, and the player or pytest-qt can still use it afterwards.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QLoggingCategory
from PySide6.QtWidgets import QApplication

_OWNED: list = []  # keeps the application we made alive for the process's lifetime


def ensure_qt_app():
    """The process's Qt application, created (offscreen, quiet) if there is none."""
    app = QApplication.instance()
    if app is None:
        QLoggingCategory.setFilterRules("qt.multimedia*=false")
        platform = os.environ.get("QT_QPA_PLATFORM") or "offscreen"
        app = QApplication(["segue", "-platform", platform])
        _OWNED.append(app)
    return app
