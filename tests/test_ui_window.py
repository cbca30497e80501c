"""The reference player's window: watched folders rescan by themselves, search-as-you-type,
double-click plays and logs, window state is remembered, closing mid-scan loses nothing."""

from __future__ import annotations

import os
import shutil

import pytest
from audio_fixtures import write_audio
from PySide6.QtCore import QSettings
from ui_support import write_library

from player_plugin.app.importing import ImportSession
from player_plugin.store.db import open_db
from player_plugin.ui.library_model import PathRole
from player_plugin.ui.player_window import PlayerWindow
from player_plugin.ui.prefs import Prefs


@pytest.fixture
def music(tmp_path, db_path, db):
    root = tmp_path / "music"
    write_library(root, artists=2, per_artist=2)
    ImportSession(db_path).scan([os.fsencode(root)])
    Prefs(autoplay=False, retrain_policy="manual", analyse_audio=False).save(db)
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
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5_000)
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
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5_000)
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


def test_an_unplayable_file_is_one_line_in_the_status_bar(window, qtbot, tmp_path):
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"fLaC" + b"\0" * 64)
    window.player.play_path(str(bad).encode())
    qtbot.waitUntil(
        lambda: window.statusBar().currentMessage().startswith("Cannot play"), timeout=10_000
    )
    message = window.statusBar().currentMessage()
    assert "broken.flac" in message and "\n" not in message and "Traceback" not in message


def test_menu_actions_open_the_wizard_and_the_report(window, qtbot):
    actions = window.plugin.actions
    assert {"import", "retrain", "report", "settings", "autoplay", "pause"} <= set(actions)
    actions["report"].trigger()
    qtbot.waitUntil(lambda: window.plugin.report.isVisible())
    window.plugin.report.close()
    actions["import"].trigger()
    qtbot.waitUntil(lambda: window.plugin.wizard.isVisible())
    assert window.plugin.wizard.folders_page.folders()  # the library folder, remembered
    window.plugin.wizard.reject()


def test_first_run_opens_the_import_wizard(qtbot, tmp_path, settings):
    from player_plugin.cli.gui import open_player

    window = open_player(str(tmp_path / "fresh.db"), settings=settings)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: getattr(window.plugin, "wizard", None) is not None, timeout=5_000)
    assert window.plugin.wizard.isVisible()
    window.plugin.wizard.reject()
    window.close()


def test_new_tracks_are_analysed_in_the_background(window, qtbot, db):
    from player_plugin.store.features import track_features

    window.plugin.prefs.analyse_audio = True
    done: list = []
    window.analyse(then=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    ids = [r[0] for r in db.execute("SELECT id FROM tracks")]
    assert all(track_features(db, i) is not None for i in ids)
    assert window.statusBar().currentMessage().startswith("Audio analysed: 4 tracks")


def test_closing_mid_training_leaves_no_half_written_model(qtbot, db_path, music, settings):
    from ui_support import played

    from player_plugin.store.stats import counts

    db = open_db(db_path)
    try:
        tracks = list(db.query("SELECT id FROM tracks"))
        played(db, tracks, played_ids={t["id"] for t in tracks}, sessions=150)  # 600 listens
    finally:
        db.close()
    window = PlayerWindow(db_path, settings=settings)
    qtbot.addWidget(window)
    window.show()
    finished: list = []
    window.plugin.training_finished.connect(lambda *args: finished.append(args))
    assert window.plugin.retrain()
    models = db_path.parent / "models"
    qtbot.waitUntil(models.exists, timeout=60_000)  # `segue train` has started its trainer
    window.close()  # interrupts it; the trainer removes its unfinished folder
    assert not window.plugin.training_running
    assert finished and finished[-1][1] in ("training cancelled", "")
    leftovers = [p.name for p in models.iterdir()] if models.exists() else []
    assert all(not name.startswith(".") for name in leftovers), leftovers
    db = open_db(db_path)
    try:
        assert counts(db)["models"] == len(leftovers)  # no row without its files
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_keyboard_shortcuts(window, qtbot):
    from PySide6.QtCore import Qt

    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5_000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    window.volume.setValue(50)
    qtbot.keyClick(window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert window.volume.value() == 55 and window.player.volume() == 55
    window.table.setFocus()
    window.table.selectRow(0)
    with qtbot.waitSignal(window.player.track_started, timeout=5_000):
        qtbot.keyClick(window.table, Qt.Key.Key_Return)  # Enter plays the selected track
    qtbot.waitUntil(lambda: window.player.state == "playing", timeout=5_000)
    qtbot.keyClick(window.table, Qt.Key.Key_Space)  # Space pauses
    qtbot.waitUntil(lambda: window.player.state == "paused", timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    window.player.stop()
