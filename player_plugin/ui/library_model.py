"""The library table's model: the ``tracks`` table, filtered and sorted in SQL, rows fetched
by the page as the view shows them (100,000 tracks scroll and sort smoothly)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import sqlite_utils
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QIcon

from player_plugin.store import library_view
from player_plugin.store.db import open_db
from player_plugin.ui.workers import TaskRunner

PAGE = 256
MAX_PAGES = 64

COLUMNS: list[tuple[str, str]] = [
    ("title", "Title"),
    ("artist", "Artist"),
    ("album", "Album"),
    ("genre", "Genre"),
    ("year", "Year"),
    ("duration", "Length"),
]

PathRole = Qt.ItemDataRole.UserRole + 1
TrackIdRole = Qt.ItemDataRole.UserRole + 2

Index = QModelIndex | QPersistentModelIndex


def format_ms(ms: int | None) -> str:
    if not ms or ms < 0:
        return ""
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _ordered_ids_in_thread(
    db_path: str,
    search: str,
    order: str,
    descending: bool,
    artist: str | None,
    album: str | None,
) -> list[int]:
    db = open_db(db_path)
    try:
        return library_view.ordered_ids(
            db, search=search, order=order, descending=descending, artist=artist, album=album
        )
    finally:
        db.close()


class LibraryModel(QAbstractTableModel):
    """Present tracks; ``set_search`` filters, ``sort`` orders, ``refresh`` re-reads.

    With a *runner* (and the store's *db_path*), the ordered ids are read on the thread
    pool, so sorting or searching 100,000 tracks never blocks the GUI; ``refreshed`` is
    emitted when the new order is shown. Rows are then read on the GUI thread by the page.
    """

    refreshed = Signal()

    def __init__(
        self,
        db: sqlite_utils.Database,
        parent=None,
        *,
        runner: TaskRunner | None = None,
        db_path: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.runner = runner if db_path else None
        self.db_path = db_path
        self.search = ""
        self.order = "artist"
        self.descending = False
        self.artist: str | None = None  # the browser pane's choice (None: all)
        self.album: str | None = None
        self.playing: bytes | None = None  # the now-playing marker's track
        self._marker = QIcon()
        self._bold = QFont()
        self._bold.setBold(True)
        self._ids: list[int] = []
        self._pages: OrderedDict[int, list[dict | None]] = OrderedDict()
        self.refresh()

    # -- reading ------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the ordered ids (after a scan, a sort or a new search)."""
        args = (self.search, self.order, self.descending, self.artist, self.album)
        if self.runner is None or self.db_path is None:  # (no db_path: no runner either)
            self._apply(
                library_view.ordered_ids(
                    self.db,
                    search=args[0],
                    order=args[1],
                    descending=args[2],
                    artist=args[3],
                    album=args[4],
                )
            )
            return
        db_path = self.db_path
        self.runner.run_task(
            lambda: _ordered_ids_in_thread(db_path, *args), self._apply, key=f"library-{id(self)}"
        )

    def _apply(self, ids: list[int]) -> None:
        self.beginResetModel()
        self._ids = ids
        self._pages.clear()
        self.endResetModel()
        self.refreshed.emit()

    def set_search(self, text: str) -> None:
        text = text.strip()
        if text != self.search:
            self.search = text
            self.refresh()

    def set_filter(self, artist: str | None, album: str | None = None) -> None:
        """Show only *artist*'s tracks (of *album*); None shows all."""
        if (artist, album) != (self.artist, self.album):
            self.artist, self.album = artist, album
            self.refresh()

    def set_playing(self, path: bytes | None, marker: QIcon | None = None) -> None:
        """Mark the row of *path* (bold, with *marker* in the title column)."""
        if marker is not None:
            self._marker = marker
        self.playing = bytes(path) if path is not None else None
        if self._ids:
            last = self.index(len(self._ids) - 1, len(COLUMNS) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def playing_row(self) -> int:
        """The row of the track playing (-1 when not shown): looked up in the pages read."""
        if self.playing is None:
            return -1
        for page_no, page in self._pages.items():
            for offset, row in enumerate(page):
                if row is not None and bytes(row["path"]) == self.playing:
                    return page_no * PAGE + offset
        return -1

    def _row(self, row: int) -> dict | None:
        page_no = row // PAGE
        page = self._pages.get(page_no)
        if page is None:
            ids = self._ids[page_no * PAGE : (page_no + 1) * PAGE]
            found = library_view.rows_by_id(self.db, ids)
            page = [found.get(i) for i in ids]
            self._pages[page_no] = page
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        offset = row - page_no * PAGE
        return page[offset] if offset < len(page) else None

    def track(self, row: int) -> dict | None:
        if 0 <= row < len(self._ids):
            return self._row(row)
        return None

    def row_of(self, track_id: int) -> int:
        try:
            return self._ids.index(track_id)
        except ValueError:
            return -1

    # -- Qt interface --------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._row(index.row())
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, COLUMNS[index.column()][0])
        if role == PathRole:
            return bytes(row["path"])
        if role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.FontRole):
            if self.playing is None or bytes(row["path"]) != self.playing:
                return None
            if role == Qt.ItemDataRole.FontRole:
                return self._bold
            return self._marker if index.column() == 0 else None
        if role == TrackIdRole:
            return row["id"]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row["path_text"]
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[index.column()][0] in (
            "year",
            "duration",
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: dict, column: str) -> str:
        if column == "title":
            return row["title"] or row["path_text"].rsplit("/", 1)[-1]
        if column == "genre":
            return ", ".join(row["genres"])
        if column == "year":
            return str(row["year"]) if row["year"] else ""
        if column == "duration":
            return format_ms(row["duration_ms"])
        return row.get(column) or ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.order = COLUMNS[column][0]
        self.descending = order == Qt.SortOrder.DescendingOrder
        self.refresh()
