"""The artist ▸ album browser pane: a tree of the library's artists and their albums that
filters the library table. Its rows come from one query on the thread pool
(:func:`player_plugin.store.library_view.artist_albums`), so 100,000 tracks never freeze
the window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from player_plugin.store import library_view
from player_plugin.store.db import open_db
from player_plugin.ui.workers import TaskRunner

FilterRole = Qt.ItemDataRole.UserRole + 1  # (artist, album) or None for "All music"
UNKNOWN = "Unknown artist"
UNKNOWN_ALBUM = "Unknown album"


def _albums_in_thread(db_path: str) -> list[tuple[str, str, int]]:
    db = open_db(db_path)
    try:
        return library_view.artist_albums(db)
    finally:
        db.close()


class BrowserPane(QTreeWidget):
    """``chosen(artist, album)`` when a row is picked: (None, None) is all music, an
    artist row gives (artist, None); "" stands for untagged."""

    chosen = Signal(object, object)
    loaded = Signal()

    def __init__(self, db_path: str, runner: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("browser")
        self.db_path = db_path
        self.runner = runner
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.currentItemChanged.connect(self._current_changed)
        self._choice: tuple[str | None, str | None] = (None, None)

    def reload(self) -> None:
        """Re-read the artists and albums in the background (after a scan)."""
        db_path = self.db_path
        self.runner.run_task(
            lambda: _albums_in_thread(db_path), self._fill, key=f"browser-{id(self)}"
        )

    def _fill(self, rows: list[tuple[str, str, int]]) -> None:
        keep = self._choice
        self.blockSignals(True)
        self.clear()
        total = sum(n for _, _, n in rows)
        everything = QTreeWidgetItem([f"All music ({total:,})"])
        everything.setData(0, FilterRole, None)
        items = [everything]
        current: QTreeWidgetItem | None = everything
        artist_item = everything  # (replaced by the first artist's row)
        artist_name: str | None = None
        artist_count = 0
        for artist, album, n in rows:
            if artist != artist_name:
                if artist_name is not None:
                    artist_item.setText(0, f"{artist_name or UNKNOWN} ({artist_count:,})")
                artist_item = QTreeWidgetItem([artist or UNKNOWN])
                artist_item.setData(0, FilterRole, (artist, None))
                items.append(artist_item)
                artist_name, artist_count = artist, 0
                if keep == (artist, None):
                    current = artist_item
            artist_count += n
            album_item = QTreeWidgetItem(artist_item, [f"{album or UNKNOWN_ALBUM} ({n:,})"])
            album_item.setData(0, FilterRole, (artist, album))
            if keep == (artist, album):
                current = album_item
        if artist_name is not None:
            artist_item.setText(0, f"{artist_name or UNKNOWN} ({artist_count:,})")
        self.addTopLevelItems(items)
        if current is not None:
            parent = current.parent()
            if parent is not None:
                parent.setExpanded(True)
            self.setCurrentItem(current)
        self.blockSignals(False)
        if current is everything and keep != (None, None):  # the choice is gone
            self._choice = (None, None)
            self.chosen.emit(None, None)
        self.loaded.emit()

    def choose(self, artist: str | None, album: str | None = None) -> None:
        """Pick the row of *artist* (and *album*); unknown ones pick nothing."""
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item is None:
                continue
            value = item.data(0, FilterRole)
            if artist is None and value is None:
                self.setCurrentItem(item)
                return
            if value is not None and value[0] == artist:
                if album is None:
                    self.setCurrentItem(item)
                    return
                for j in range(item.childCount()):
                    child = item.child(j)
                    if child is not None and child.data(0, FilterRole)[1] == album:
                        item.setExpanded(True)
                        self.setCurrentItem(child)
                        return

    def _current_changed(self, item: QTreeWidgetItem | None, _previous) -> None:
        value = item.data(0, FilterRole) if item is not None else None
        choice = (None, None) if value is None else (value[0], value[1])
        if choice != self._choice:
            self._choice = choice
            self.chosen.emit(*choice)
