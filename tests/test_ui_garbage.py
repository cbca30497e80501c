"""A player session leaves no Qt object to Python's garbage collector.

The plugin leaves Python's collector automatic (docs/PLUGIN.md), and a collection runs on
whichever thread trips it, pool threads included; a Qt object it destroyed there would be
destroyed off the GUI thread (once seen as a deadlock). So the player and the plugin never
make a live, Python-owned Qt object part of a reference cycle: each is parented (Qt
deletes it with its parent, on the GUI thread) or released by reference count on the GUI
thread. This plays, rescans, analyses, suggests, opens and closes the dialogs, and finds no
such object in the cyclic garbage.
"""

from __future__ import annotations

import gc
import os

import pytest
import shiboken6
from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication
from ui_support import played, write_library

from player_plugin.app.importing import ImportSession
from player_plugin.store.db import open_db
from player_plugin.ui.library_model import PathRole
from player_plugin.ui.player_window import PlayerWindow
from player_plugin.ui.prefs import Prefs


def live_qt_objects_in_cyclic_garbage(older: set[int]) -> list[str]:
    """Python-owned, still alive Qt objects that only reference cycles keep (but those in
    *older*, the ids of objects that earlier tests made)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
    finally:
        gc.set_debug(0)
    found = sorted(
        type(o).__name__
        for o in gc.garbage
        if issubclass(type(o), QObject)
        and id(o) not in older
        and shiboken6.isValid(o)
        and shiboken6.ownedByPython(o)
    )
    gc.garbage.clear()
    return found


@pytest.fixture
def window(qtbot, tmp_path, db_path):
    root = tmp_path / "music"
    write_library(root, artists=2, per_artist=3)
    ImportSession(db_path).scan([os.fsencode(root)])
    db = open_db(db_path)
    tracks = list(db.query("SELECT id, path FROM tracks ORDER BY id"))
    played(db, tracks, played_ids={t["id"] for t in tracks[:4]})
    Prefs(autoplay=True, retrain_policy="manual", analyse_audio=True).save(db)
    db.close()
    write_library(root / "new", artists=1, per_artist=2)
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    window = PlayerWindow(db_path, settings=settings)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def test_a_session_leaves_no_qt_object_to_the_collector(window, qtbot):
    gc.collect()  # what earlier tests left
    older = {id(o) for o in gc.get_objects() if issubclass(type(o), QObject)}
    qtbot.waitUntil(lambda: window.model.rowCount() == 6, timeout=10_000)
    with qtbot.waitSignal(window.player.track_started, timeout=5_000):
        window.table.doubleClicked.emit(window.model.index(0, 0))
    window.player.enqueue(window.model.data(window.model.index(1, 0), PathRole))
    window.rescan()
    window.analyse()
    window.plugin.refresh()
    actions = window.plugin.actions
    actions["report"].trigger()
    qtbot.waitUntil(lambda: window.plugin.report.isVisible())
    window.plugin.report.close()
    actions["import"].trigger()
    qtbot.waitUntil(lambda: window.plugin.wizard.isVisible())
    window.plugin.wizard.reject()
    QTimer.singleShot(200, lambda: QApplication.activeModalWidget().reject())
    actions["settings"].trigger()
    window.player.next()
    qtbot.waitUntil(lambda: window.model.rowCount() == 8, timeout=60_000)
    window.close()  # the analysis may still run: closing stops it and waits for the pool
    qtbot.waitUntil(lambda: not window.runner.running, timeout=30_000)
    assert live_qt_objects_in_cyclic_garbage(older) == []
