"""The table's cells after its speed-up (texts made once per page, the first page read on
the pool with the ids) are exactly what the model gave before: every role of every cell,
for tracks with odd tags, sorted and searched, with and without a runner."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon

from player_plugin.store import library_view
from player_plugin.ui.library_model import (
    COLUMNS,
    PAGE,
    LibraryModel,
    PathRole,
    TrackIdRole,
    format_ms,
)
from player_plugin.ui.workers import TaskRunner

ROLES = [
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.DecorationRole,
    Qt.ItemDataRole.FontRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.TextAlignmentRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.SizeHintRole,
    Qt.ItemDataRole.CheckStateRole,
    PathRole,
    TrackIdRole,
]


def old_display(row: dict, column: str) -> str:
    """LibraryModel._display before the change."""
    if column == "title":
        return row["title"] or row["path_text"].rsplit("/", 1)[-1]
    if column == "genre":
        return ", ".join(row["genres"])
    if column == "year":
        return str(row["year"]) if row["year"] else ""
    if column == "duration":
        return format_ms(row["duration_ms"])
    return row.get(column) or ""


def old_data(row: dict | None, column: int, role, playing: bytes | None, marker, bold):
    """LibraryModel.data before the change, given the row it read for the cell."""
    if row is None:
        return None
    if role == Qt.ItemDataRole.DisplayRole:
        return old_display(row, COLUMNS[column][0])
    if role == PathRole:
        return bytes(row["path"])
    if role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.FontRole):
        if playing is None or bytes(row["path"]) != playing:
            return None
        if role == Qt.ItemDataRole.FontRole:
            return bold
        return marker if column == 0 else None
    if role == TrackIdRole:
        return row["id"]
    if role == Qt.ItemDataRole.ToolTipRole:
        return row["path_text"]
    if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[column][0] in ("year", "duration"):
        return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return None


def odd_library(db, n: int) -> None:
    rows = []
    for i in range(n):
        path = f"/m/{i % 7}/{'é' * (i % 3)}track {i:04d}.flac"
        genres = [
            json.dumps(["Jazz"]),
            json.dumps(["Folk", "Ambient"]),
            json.dumps([]),
            None,
            "not json",
            json.dumps("Rock"),
        ][i % 6]
        rows.append(
            {
                "path": path.encode(),
                "path_text": path,
                "title": None if i % 5 == 0 else ("" if i % 11 == 0 else f"Title {i * 37 % n}"),
                "artist": None if i % 4 == 0 else f"Artist {i % 9}",
                "album": None if i % 6 == 0 else f"Album {i % 13}",
                "genres": genres,
                "year": [0, None, 1999, 2024][i % 4],
                "duration_ms": [None, 0, -5, 59_600, 3_723_000, 61_000][i % 6],
                "missing": 1 if i % 50 == 49 else 0,
                "first_seen": 0,
                "last_scanned": 0,
            }
        )
    db["tracks"].insert_all(rows, batch_size=500)


def check_cells(model: LibraryModel, db) -> int:
    marker, bold = model._marker, model._bold
    checked = 0
    for r in range(model.rowCount()):
        track_id = model._ids[r]
        row = library_view.rows_by_id(db, [track_id]).get(track_id)  # as the old model read it
        for c in range(len(COLUMNS)):
            index = model.index(r, c)
            for role in ROLES:
                want = old_data(row, c, role, model.playing, marker, bold)
                got = model.data(index, role)
                assert got == want, (r, c, role, got, want)
                checked += 1
    return checked


@pytest.mark.parametrize("threaded", [False, True])
def test_every_cell_is_what_the_old_model_gave(db, db_path, qtbot, threaded):
    odd_library(db, PAGE * 2 + 37)
    runner = TaskRunner() if threaded else None
    model = LibraryModel(db, runner=runner, db_path=str(db_path) if threaded else None)
    qtbot.waitUntil(lambda: model.rowCount() > PAGE * 2, timeout=5_000)
    if threaded:
        assert 0 in model._pages  # the first page came with the ids
    playing = library_view.rows_by_id(db, [model._ids[3]])[model._ids[3]]["path"]
    model.set_playing(bytes(playing), QIcon())
    assert check_cells(model, db) > 5000
    for column, order in ((0, Qt.SortOrder.DescendingOrder), (5, Qt.SortOrder.AscendingOrder)):
        with qtbot.waitSignal(model.refreshed, timeout=5_000):
            model.sort(column, order)
        check_cells(model, db)
    with qtbot.waitSignal(model.refreshed, timeout=5_000):
        model.set_search("artist 3")
    assert 0 < model.rowCount() < PAGE
    check_cells(model, db)
    assert model.playing_row() == -1 or model._ids[model.playing_row()] == model._ids[3]
