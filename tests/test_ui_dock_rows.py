"""The dock makes its rows ahead of time, in idle time, so a new list only fills rows in
(ten rows made at once, right after a scan, stalled the event loop); a row made ahead
shows exactly what a row made for its suggestion shows, and acts the same."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import QObject, Signal

from player_plugin.ui.dock import SuggestionRow, UpNextDock


class FakePlugin(QObject):
    """What the dock reads from the plugin, and a record of the actions it calls."""

    suggestions_changed = Signal(list)
    hidden = Signal(int, str, str)

    def __init__(self) -> None:
        super().__init__()
        self.covers: dict[bytes, bytes] = {}
        self.loved = {102}
        self.source_words = "for this session"
        self.prefs = SimpleNamespace(suggestions=6)
        self.calls: list[tuple[str, int]] = []

    def play_next(self, track_id: int) -> bool:
        self.calls.append(("play_next", track_id))
        return True

    def toggle_love(self, track_id: int) -> bool:
        self.calls.append(("toggle_love", track_id))
        return True


def items(first: int, n: int = 6) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(
            track_id=first + i,
            path=f"/m/{first + i}.flac".encode(),
            title=None if i == 2 else f"T<{i}> & co",
            artist=None if i == 3 else f"Artist {i}",
            reason="" if i == 4 else f"Because of {i}",
        )
        for i in range(n)
    ]


def shown(row: SuggestionRow) -> tuple:
    return (
        row.track_id,
        row.item,
        row.title.text(),
        row.artist.text(),
        row.reason.text(),
        row.cover.pixmap().toImage(),
        row.loved,
        row.buttons["love"].toolTip(),
        [b.isEnabled() for b in row.buttons.values()],
        row.done,
    )


def test_a_new_list_fills_rows_made_in_idle_time(qtbot):
    plugin = FakePlugin()
    dock = UpNextDock(plugin)
    qtbot.addWidget(dock)
    dock.show()
    qtbot.waitUntil(lambda: len(dock._spares) == 6, timeout=5_000)
    made = list(dock._spares)
    dock.hovered = False
    dock.show_items(items(100))
    assert sorted(map(id, dock.rows)) == sorted(map(id, made))  # no row made now
    assert dock.header.text() == "6 suggestions for this session"
    for row, item in zip(dock.rows, items(100), strict=True):
        fresh = SuggestionRow(item, plugin, loved=item.track_id in plugin.loved)
        qtbot.addWidget(fresh)
        assert shown(row)[0] == fresh.track_id and row.item.track_id == item.track_id
        assert shown(row)[2:] == shown(fresh)[2:]
        assert row.isVisibleTo(dock)
    assert [r.loved for r in dock.rows] == [False, False, True, False, False, False]

    # the rows act as before
    dock.rows[1].buttons["play_next"].click()
    assert plugin.calls == [("play_next", 101)] and dock.rows[1].done == "play_next"
    # and the next list, before the spares are made again, still gets its rows
    dock.show_items(items(200, 8))
    assert [r.track_id for r in dock.rows] == list(range(200, 208))
    assert all(r.done == "" for r in dock.rows)
    qtbot.waitUntil(lambda: len(dock._spares) == 6, timeout=5_000)
