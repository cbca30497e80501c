"""The reference player's window: watched folders rescan by themselves, search-as-you-type,
double-click plays and logs, window state is remembered, closing mid-scan loses nothing."""

from __future__ import annotations

import os
import shutil

import pytest
from audio_fixtures import write_audio
from PySide6.QtCore import QSettings
from ui_support import write_library

from player_plugin.library.import_session import ImportSession
from player_plugin.store.db import open_db
from player_plugin.ui.library_model import PathRole
from player_plugin.ui.player_window import PlayerWindow
from player_plugin.ui.prefs import Prefs


@pytest.fixture
def music(tmp_path, db_path, db):
    root = tmp_path / "music"
    write_library(root, artists=2, per_artist=2)
    ImportSession(db_path).scan([os.fsencode(root)])
    Prefs(autoplay=False, retrain_policy="manual").save(db)
    return root


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, db_path, music, settings):
    window = PlayerWindow(db_path, settings=settings)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def test_a_file_added_to_a_watched_folder_appears_within_seconds(window, qtbot, music):
    assert window.model.rowCount() == 4
    qtbot.waitUntil(lambda: len(window.watcher.directories()) >= 3, timeout=5_000)
    write_audio(
        music / "Artist A" / "09 Fresh.flac",
        "flac",
        seconds=0.5,
        tags={"title": "Fresh", "artist": "Artist A", "album": "Album A"},
    )
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=10_000)
    titles = {window.model.track(r)["title"] for r in range(5)}
    assert "Fresh" in titles
    shutil.rmtree(music / "Artist B")  # and a removed folder disappears
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10_000)


def test_search_as_you_type_filters_the_table(window, qtbot):
    qtbot.keyClicks(window.search, "techno")
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3_000)
    window.search.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=3_000)


def test_double_click_plays_the_track_and_the_play_is_logged(window, qtbot, db):
    index = window.model.index(0, 0)
    path = window.model.data(index, PathRole)
    with qtbot.waitSignal(window.player.track_started, timeout=5_000):
        window.table.doubleClicked.emit(index)
    assert window.player.current_track() == path
    assert window.now_title.text() == window.model.track(0)["title"]
    window.player.stop()
    rows = list(db.query("SELECT reason FROM plays"))
    assert rows == [{"reason": "stopped"}]


def test_window_state_is_remembered(qtbot, db_path, music, settings):
    first = PlayerWindow(db_path, settings=settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 510)
    first.volume.setValue(33)
    first.close()
    second = PlayerWindow(db_path, settings=settings)
    qtbot.addWidget(second)
    assert second.volume.value() == 33
    assert (second.width(), second.height()) == (700, 510)
    second.close()


def test_closing_mid_scan_loses_nothing(qtbot, db_path, music, settings):
    for i in range(60):
        shutil.copy(music / "Artist A" / "01 Song 00.flac", music / f"copy {i:02d}.flac")
    window = PlayerWindow(db_path, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.rescan()
    window.close()  # cancels the scan and waits for it: batches written so far stay
    db = open_db(db_path)
    try:
        count = db.execute("SELECT count(*) FROM tracks WHERE missing = 0").fetchone()[0]
        assert 4 <= count <= 64
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
