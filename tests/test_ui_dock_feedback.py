"""Feedback the listener can trust: acting on a dock row never moves another row under the
pointer, the heart is a visible toggle, *Never* and *Not now* can be undone for ten seconds
from a bar naming the track, and every status message names the track."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QEvent, QPointF
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication
from ui_support import played, scanned, write_library

from player_plugin.hosts.base import MemoryHost
from player_plugin.store.feedback import hidden_track_ids, loved_track_ids
from player_plugin.ui.plugin import SeguePlugin
from player_plugin.ui.prefs import Prefs


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("dockfb") / "music"
    write_library(root, artists=6, per_artist=3, seconds=0.3)
    return root


@pytest.fixture
def setup(qtbot, db_path, db, music):
    tracks = scanned(db, music)
    played(db, tracks, played_ids={t["id"] for t in tracks[:8]})
    Prefs(autoplay=False, retrain_policy="manual", suggestions=6, not_now_hours=6).save(db)
    plugin = SeguePlugin(MemoryHost(), db_path)
    dock = plugin.make_dock()
    qtbot.addWidget(dock)
    dock.resize(360, 900)
    dock.show()
    messages: list[str] = []
    plugin.status.connect(messages.append)
    with qtbot.waitSignal(plugin.suggestions_changed, timeout=15_000):
        plugin.host.play(bytes(tracks[0]["path"]))
    qtbot.waitUntil(lambda: len(dock.rows) == 6, timeout=5_000)
    yield plugin, dock, messages
    plugin.shutdown()


def enter(widget) -> None:
    point = QPointF(10, 10)
    QApplication.sendEvent(widget, QEnterEvent(point, point, point))


def leave(widget) -> None:
    QApplication.sendEvent(widget, QEvent(QEvent.Type.Leave))


def layout_of(dock) -> list[tuple[int, int]]:
    return [(row.track_id, row.y()) for row in dock.rows]


def name(item) -> str:
    return f"{item.artist} – {item.title}"


def test_acting_never_moves_a_row_under_the_pointer(qtbot, setup, db):
    plugin, dock, _ = setup
    enter(dock)  # the pointer is over the dock
    before = layout_of(dock)
    widgets = list(dock.rows)
    never, queued = dock.rows[1], dock.rows[3]
    with qtbot.waitSignal(plugin.suggestions_changed, timeout=15_000):  # the refresh
        never.buttons["never"].click()
    queued.buttons["queue"].click()
    qtbot.wait(300)
    QApplication.processEvents()
    assert layout_of(dock) == before and dock.rows == widgets  # nothing moved
    assert never.done == "never" and "again" in never.reason.text()
    assert not never.buttons["play_next"].isEnabled()  # a second click does nothing
    assert dock.pending is not None  # the new list waits
    leave(dock)  # the pointer leaves: now the list is renewed
    ids = [row.track_id for row in dock.rows]
    assert never.track_id not in ids and queued.track_id not in ids
    assert never.track_id in hidden_track_ids(db)


def test_love_is_a_visible_toggle(qtbot, setup, db):
    plugin, dock, messages = setup
    row = dock.rows[0]
    heart = row.buttons["love"]
    empty = heart.icon().pixmap(16, 16).toImage()
    heart.click()
    assert heart.isChecked() and row.loved and row.track_id in loved_track_ids(db)
    assert heart.icon().pixmap(16, 16).toImage() != empty  # the filled heart
    assert messages[-1] == f"Loved {name(row.item)}"
    heart.click()  # again: un-love
    assert not heart.isChecked() and row.track_id not in loved_track_ids(db)
    assert heart.icon().pixmap(16, 16).toImage() == empty
    assert messages[-1] == f"No longer loved: {name(row.item)}"
    heart.click()
    with qtbot.waitSignal(plugin.suggestions_changed, timeout=15_000):
        plugin.refresh()  # a new list still shows it loved
    again = next(r for r in dock.rows if r.track_id == row.track_id)
    assert again.buttons["love"].isChecked()


def test_never_can_be_undone_from_a_bar_naming_the_track(qtbot, setup, db):
    plugin, dock, messages = setup
    row = dock.rows[2]
    track = row.track_id
    clicked = time.monotonic()
    row.buttons["never"].click()
    bar = dock.undo_bar
    assert bar.isVisible() and bar.label.text() == f"Won't suggest {name(row.item)} again"
    left = bar.timer.remainingTime()
    since_ms = (time.monotonic() - clicked) * 1000  # (a loaded machine may pause here)
    assert bar.timer.interval() == 10_000 and 10_000 - since_ms - 5 <= left <= 10_000
    assert messages[-1] == f"Won't suggest {name(row.item)} again (Undo)"
    assert track in hidden_track_ids(db)
    with qtbot.waitSignal(plugin.suggestions_changed, timeout=15_000):
        bar.button.click()
    assert not bar.isVisible() and track not in hidden_track_ids(db)
    assert messages[-1] == f"{name(row.item)} can be suggested again"
    assert track in [int(i.track_id) for i in plugin.items]  # back in the list


def test_not_now_undo_expires(qtbot, setup, db):
    _, dock, _ = setup
    dock.undo_ms = 300  # (ten seconds in use; shortened to watch it go)
    row = dock.rows[0]
    row.buttons["not_now"].click()
    assert dock.undo_bar.isVisible()
    assert dock.undo_bar.label.text() == f"Hidden for 6 hours: {name(row.item)}"
    qtbot.waitUntil(lambda: not dock.undo_bar.isVisible(), timeout=3_000)
    assert row.track_id in hidden_track_ids(db)  # still hidden: not undone


def test_queue_messages_name_the_track(qtbot, setup):
    _, dock, messages = setup
    first, second = dock.rows[0], dock.rows[1]
    first.buttons["play_next"].click()
    assert messages[-1] == f"Playing next: {name(first.item)}"
    second.buttons["queue"].click()
    assert messages[-1] == f"Added to the queue: {name(second.item)}"
