"""The library table: rows fetched by the page, sorted and searched in SQL."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from player_plugin.ui.library_model import COLUMNS, PAGE, LibraryModel, PathRole, format_ms

GENRES = ["Jazz", "Techno", "Folk", "Spoken Word"]


def fill(db, n: int) -> None:
    rows = []
    for i in range(n):
        path = f"/music/{i % 97:02d}/track {i:06d}.flac"
        rows.append(
            {
                "path": path.encode(),
                "path_text": path,
                "title": f"Title {i:06d}",
                "artist": f"Artist {i % 97:02d}",
                "album": f"Album {i % 211:03d}",
                "genres": json.dumps([GENRES[i % 4]]),
                "year": 1960 + i % 60,
                "duration_ms": 60_000 + i,
                "missing": 1 if i % 1000 == 999 else 0,
                "first_seen": 0,
                "last_scanned": 0,
            }
        )
    db["tracks"].insert_all(rows, batch_size=2000)


@pytest.fixture
def model(db, qtbot):
    fill(db, 5000)
    return LibraryModel(db)


def text(model, row, column="title"):
    col = [c for c, _ in COLUMNS].index(column)
    return model.data(model.index(row, col))


def test_rows_are_fetched_lazily_by_the_page(model):
    assert model.rowCount() == 4995  # missing files are not listed
    assert len(model._pages) == 0
    last = text(model, model.rowCount() - 1)
    assert last.startswith("Title ")
    assert len(model._pages) == 1  # only the page shown was read
    assert model.data(model.index(0, 0), PathRole).startswith(b"/music/")
    assert len(model._pages[0]) == PAGE


def test_sort_by_any_column(model):
    model.sort([c for c, _ in COLUMNS].index("title"), Qt.SortOrder.DescendingOrder)
    assert text(model, 0) == "Title 004998"
    model.sort([c for c, _ in COLUMNS].index("year"), Qt.SortOrder.AscendingOrder)
    assert text(model, 0, "year") == "1960"
    assert text(model, model.rowCount() - 1, "year") == "2019"


def test_search_matches_artist_album_title_and_genre(model):
    model.set_search("spoken")
    assert model.rowCount() == len([i for i in range(5000) if i % 4 == 3 and i % 1000 != 999])
    assert {text(model, r, "genre") for r in range(model.rowCount())} == {"Spoken Word"}
    model.set_search("techno")
    techno = model.rowCount()
    model.set_search("techno album 013")  # every word must match somewhere
    assert 0 < model.rowCount() < techno
    for r in range(model.rowCount()):
        track = model.track(r)
        fields = " ".join(
            [track["title"], track["artist"], track["album"], *track["genres"]]
        ).lower()
        assert all(word in fields for word in ("techno", "album", "013"))
    model.set_search("100%")  # LIKE wildcards are taken literally
    assert model.rowCount() == 0
    model.set_search("")
    assert model.rowCount() == 4995


def test_the_view_sorts_through_the_header(model, qtbot):
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert model.order == "title" and model.descending
    assert text(model, 0) == "Title 004998"


def test_format_ms():
    assert format_ms(None) == ""
    assert format_ms(61_400) == "1:01"
    assert format_ms(3_723_000) == "1:02:03"


def test_with_a_runner_sorting_and_searching_run_off_the_gui_thread(db, db_path, qtbot):
    from player_plugin.ui.workers import TaskRunner

    fill(db, 3000)
    runner = TaskRunner()
    model = LibraryModel(db, runner=runner, db_path=str(db_path))
    qtbot.waitUntil(lambda: model.rowCount() == 2997, timeout=5_000)
    model.sort(0, Qt.SortOrder.AscendingOrder)
    with qtbot.waitSignal(model.refreshed, timeout=5_000):
        model.sort(0, Qt.SortOrder.DescendingOrder)  # the older request's answer is dropped
    assert text(model, 0) == "Title 002998"
    with qtbot.waitSignal(model.refreshed, timeout=5_000):
        model.set_search("spoken")
    assert {text(model, r, "genre") for r in range(model.rowCount())} == {"Spoken Word"}
