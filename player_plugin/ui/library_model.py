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
) -> tuple[list[int], dict[int, dict]]:
    """The ordered ids and the rows of the first page (the view shows it after a reset:
    read here, the GUI thread does not wait for it)."""
    db = open_db(db_path)
    try:
        ids = library_view.ordered_ids(
            db, search=search, order=order, descending=descending, artist=artist, album=album
        )
        return ids, library_view.rows_by_id(db, ids[:PAGE])
    finally:
        db.close()


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_RIGHT_COLUMNS = frozenset(n for n, (name, _) in enumerate(COLUMNS) if name in ("year", "duration"))

# a row as the model keeps it: the track's fields, its cells' texts, its path
Entry = tuple[dict, tuple[str, ...], bytes]


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
        self._pages: OrderedDict[int, list[Entry | None]] = OrderedDict()
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
            lambda: _ordered_ids_in_thread(db_path, *args),
            self._apply_read,
            key=f"library-{id(self)}",
        )

    def _apply_read(self, read: tuple[list[int], dict[int, dict]]) -> None:
        ids, first = read
        self._apply(ids, first)

    def _apply(self, ids: list[int], first: dict[int, dict] | None = None) -> None:
        self.beginResetModel()
        self._ids = ids
        self._pages.clear()
        if first is not None:
            self._pages[0] = [_entry(first.get(i)) for i in ids[:PAGE]]
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
            for offset, entry in enumerate(page):
                if entry is not None and entry[2] == self.playing:
                    return page_no * PAGE + offset
        return -1

    def _entry(self, row: int) -> Entry | None:
        page_no = row // PAGE
        page = self._pages.get(page_no)
        if page is None:
            ids = self._ids[page_no * PAGE : (page_no + 1) * PAGE]
            found = library_view.rows_by_id(self.db, ids)
            page = [_entry(found.get(i)) for i in ids]
            self._pages[page_no] = page
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        offset = row - page_no * PAGE
        return page[offset] if offset < len(page) else None

    def _row(self, row: int) -> dict | None:
        entry = self._entry(row)
        return None if entry is None else entry[0]

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
        # called for every role of every cell the view paints: the cells' texts are made
        # once, when their page is read (see _entry)
        if not index.isValid():
            return None
        entry = self._entry(index.row())
        if entry is None:
            return None
        if role == _DISPLAY:
            return entry[1][index.column()]
        if role in (_DECORATION, _FONT):
            if self.playing is None or entry[2] != self.playing:
                return None
            if role == _FONT:
                return self._bold
            return self._marker if index.column() == 0 else None
        if role == _ALIGNMENT:
            return _RIGHT if index.column() in _RIGHT_COLUMNS else None
        if role == PathRole:
            return entry[2]
        if role == TrackIdRole:
            return entry[0]["id"]
        if role == _TOOLTIP:
            return entry[0]["path_text"]
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


def _entry(row: dict | None) -> Entry | None:
    """A row as the model keeps it (None stays None: a track gone since the ids)."""
    if row is None:
        return None
    texts = tuple(LibraryModel._display(row, name) for name, _ in COLUMNS)
    return row, texts, bytes(row["path"])
