"""The reference player's basics: a now-playing marker in the table, shuffle (plain and
smart) and repeat (one, all), the artist ▸ album browser, a queue with one row per track
and a count, Help ▸ About, each action in one menu, and a lasting sign while play logging
is paused."""

from __future__ import annotations

import os
import random
import time

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from test_ui_library import fill
from ui_support import write_library

from player_plugin.app.importing import ImportSession
from player_plugin.app.smart_shuffle import smart_next
from player_plugin.store import library_view
from player_plugin.ui.browser import BrowserPane
from player_plugin.ui.library_model import LibraryModel, PathRole
from player_plugin.ui.player_window import PlayerWindow
from player_plugin.ui.prefs import Prefs
from player_plugin.ui.workers import TaskRunner


@pytest.fixture
def window(qtbot, tmp_path, db_path, db):
    root = tmp_path / "music"
    write_library(root, artists=2, per_artist=2)
    ImportSession(db_path).scan([os.fsencode(root)])
    Prefs(autoplay=False, retrain_policy="manual", analyse_audio=False).save(db)
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    window = PlayerWindow(db_path, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5_000)
    yield window
    window.close()


def paths(window) -> list[bytes]:
    return [window.model.data(window.model.index(r, 0), PathRole) for r in range(4)]


def test_the_playing_track_is_marked_in_the_table(window, qtbot):
    tracks = paths(window)
    with qtbot.waitSignal(window.player.track_started, timeout=5_000):
        window.player.play_path(tracks[2])
    model = window.model
    marked = [r for r in range(4) if model.data(model.index(r, 0), Qt.ItemDataRole.FontRole)]
    assert marked == [2] == [model.playing_row()]
    assert model.data(model.index(2, 0), Qt.ItemDataRole.DecorationRole) is not None
    assert model.data(model.index(1, 0), Qt.ItemDataRole.DecorationRole) is None
    # the play button: the media loads on Qt's shared pool (two threads on two cores) first
    qtbot.waitUntil(lambda: window._play_icon == "pause", timeout=10_000)
    window.player.stop()  # the window follows the player's state from its event loop
    qtbot.waitUntil(lambda: model.playing_row() == -1, timeout=2_000)
    assert window._play_icon == "play"


class Draw(random.Random):
    """A draw that takes the queued track at *index* (-1: the last)."""

    def __init__(self, index: int) -> None:
        super().__init__(0)
        self.index = index

    def randrange(self, n, *_args, **_kw):  # type: ignore[override]
        return self.index % n


def test_shuffle_plays_the_queue_out_of_order_and_smart_shuffle_asks_the_recommender(
    window, qtbot, db
):
    player, tracks = window.player, paths(window)
    player.play_path(tracks[0])
    for path in tracks[1:]:
        player.enqueue(path)
    player.next()  # shuffle off: queue order
    assert player.current_track() == tracks[1]
    player._random = Draw(-1)  # not the queue's order
    window.shuffle_button.click()
    assert player.shuffle == "plain" and window.shuffle_actions["plain"].isChecked()
    player.next()
    assert player.current_track() == tracks[3] and player.queue() == [tracks[2]]
    player.pause()  # (0.6 s tracks: none ends while the recommender thinks)
    window.shuffle_button.click()  # smart: the recommender names the next track
    assert player.shuffle == "smart" and window.shuffle_actions["smart"].isChecked()
    player.enqueue(tracks[0])
    queued = player.queue()
    qtbot.waitUntil(lambda: player.preferred_next in queued, timeout=10_000)
    chosen = player.preferred_next
    assert chosen == smart_next(db, tracks[3], queued)
    player._random = Draw(1 - queued.index(chosen))  # a random pick would take the other
    player.next()
    assert player.current_track() == chosen
    player.stop()


def test_repeat_one_plays_the_track_again_and_repeat_all_requeues(window, qtbot):
    player, tracks = window.player, paths(window)
    window.repeat_button.click()
    assert player.repeat == "one" and "Repeat one" in window.repeat_button.toolTip()
    started: list[bytes] = []
    player.track_started.connect(started.append)
    player.play_path(tracks[0])  # 0.6 s: it ends and starts again
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=15_000)
    assert started[:2] == [tracks[0], tracks[0]]
    window.repeat_button.click()
    assert player.repeat == "all"
    player.enqueue(tracks[1])
    player.next()  # the track that ended goes back to the end of the queue
    assert player.current_track() == tracks[1] and player.queue() == [tracks[0]]
    player.next()
    assert player.current_track() == tracks[0] and player.queue() == [tracks[1]]
    player.stop()


def test_the_browser_filters_the_table_by_artist_and_album(window, qtbot):
    browser = window.browser
    qtbot.waitUntil(lambda: browser.topLevelItemCount() == 3, timeout=5_000)
    assert browser.topLevelItem(0).text(0) == "All music (4)"
    assert browser.topLevelItem(1).text(0) == "Artist A (2)"
    browser.choose("Artist B")
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5_000)
    assert {window.model.track(r)["artist"] for r in range(2)} == {"Artist B"}
    browser.choose("Artist A", "Nothing")  # an album the artist does not have: no change
    assert window.model.artist == "Artist B"
    browser.choose("Artist A", "Album A")
    qtbot.waitUntil(lambda: window.model.artist == "Artist A", timeout=5_000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5_000)
    browser.choose(None)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5_000)


def test_the_browser_and_its_filter_stay_smooth_on_100000_tracks(db, db_path, qtbot):
    fill(db, 100_000)  # 97 artists, 20,467 albums
    runner = TaskRunner()
    browser = BrowserPane(str(db_path), runner)
    model = LibraryModel(db, runner=runner, db_path=str(db_path))
    qtbot.addWidget(browser)
    began = time.perf_counter()
    browser.reload()  # the query runs on the pool
    assert time.perf_counter() - began < 0.2
    with qtbot.waitSignal(browser.loaded, timeout=30_000):
        pass
    assert browser.topLevelItemCount() == 98
    browser.chosen.connect(model.set_filter)
    qtbot.waitUntil(lambda: model.rowCount() == 99_900, timeout=30_000)
    began = time.perf_counter()
    browser.choose("Artist 05")
    assert time.perf_counter() - began < 0.2  # the table's ids are read on the pool too
    expected = len(library_view.ordered_ids(db, artist="Artist 05"))
    qtbot.waitUntil(lambda: model.rowCount() == expected, timeout=30_000)
    assert 1000 < expected < 1040
    runner.shutdown()


def test_the_queue_has_one_row_per_track_and_a_count(window):
    tracks = paths(window)
    assert window.queue_dock.windowTitle() == "Queue"
    for path in tracks[:3]:
        window.player.enqueue(path)
    assert window.queue_list.count() == 3
    assert window.queue_dock.windowTitle() == "Queue · 3 tracks"
    texts = [window.queue_list.item(i).text() for i in range(3)]
    assert all("\n" not in t and " — Artist " in t for t in texts)
    window.player.remove(0)
    assert window.queue_dock.windowTitle() == "Queue · 2 tracks"


def test_help_about_names_versions_and_where_the_data_lives(window, qtbot, db_path):
    window.about_action.trigger()
    box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox))
    qtbot.waitUntil(box.isVisible)
    assert str(db_path) in box.text() and "PySide6" in box.text() and "models" in box.text()
    box.close()


def test_each_action_is_in_exactly_one_menu(window):
    seen: dict[int, list[str]] = {}

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            if action.menu() is not None:
                walk(action.menu(), f"{where} ▸ {action.text()}")
                continue
            seen.setdefault(id(action), []).append(where)
            seen.setdefault(action.text().replace("&", ""), []).append(where)

    for top in window.menuBar().actions():
        walk(top.menu(), top.text())
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert twice == {}
    assert "Import library…" in seen and "About Segue" in seen


def test_paused_logging_shows_a_lasting_sign_that_resumes_on_click(window, qtbot):
    sign = window.logging_sign
    assert not sign.isVisible()
    window.plugin.actions["pause"].trigger()
    assert window.plugin.logging_paused() and sign.isVisible()
    window.show_message("something else")  # a passing message does not hide it
    assert sign.isVisible()
    qtbot.mouseClick(sign, Qt.MouseButton.LeftButton)
    assert not window.plugin.logging_paused() and not sign.isVisible()
    assert not window.plugin.actions["pause"].isChecked()


def test_a_restored_track_waits_paused_and_resumes_where_it_was(qtbot, tmp_path):
    from audio_fixtures import write_audio

    from player_plugin.hosts.reference import ReferencePlayer

    path = os.fsencode(write_audio(tmp_path / "long.flac", "flac", seconds=6.0, freq=300.0))
    player = ReferencePlayer()
    started: list[bytes] = []
    player.track_started.connect(started.append)
    player.cue(path, 4_000)
    assert player.cued_track() == (path, 4_000) and player.position() == 4_000
    assert player.current_track() is None and started == [] and player.state != "playing"
    assert player.snapshot()["current"] == path
    player.play()  # a new play, from where it was
    qtbot.waitUntil(
        lambda: player.state == "playing" and player.media.position() > 0, timeout=10_000
    )
    assert started == [path] and player.media.position() >= 3_900
    player.shutdown()


def test_the_window_state_is_written_only_when_it_changed(window, tmp_path):
    """The keeper saves the window with every player-state save (every few seconds while
    playing); an unchanged window is not rewritten (it cost the GUI thread 8-40 ms)."""
    ini = tmp_path / "window.ini"
    window.volume.setValue(33)
    window._save_window()
    first = ini.stat().st_ino, ini.stat().st_mtime_ns, ini.read_bytes()
    time.sleep(0.02)
    window._save_window()  # nothing changed: the file is left as it is
    assert (ini.stat().st_ino, ini.stat().st_mtime_ns, ini.read_bytes()) == first
    window.volume.setValue(34)
    window._save_window()
    assert QSettings(str(ini), QSettings.Format.IniFormat).value("volume") in (34, "34")
    assert ini.read_bytes() != first[2]
