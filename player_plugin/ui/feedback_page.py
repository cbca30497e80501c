"""Settings ▸ Your feedback: the tracks the listener loved, asked never to hear suggested,
and hid for now (until when), as "Artist – Title", each removable at once."""

from __future__ import annotations

import datetime as dt

import sqlite_utils
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from player_plugin.store.feedback import FeedbackKind, clear_feedback, feedback_rows

# kind -> (box title, remove button, what the list is empty of)
KINDS = {
    "love": ("Loved", "Remove the love", "No loved tracks yet."),
    "never": ("Never suggested", "Suggest again", "Nothing is excluded for good."),
    "not_now": ("Hidden for now", "Suggest again", "Nothing is hidden for now."),
}
TrackRole = Qt.ItemDataRole.UserRole


def row_text(row: dict) -> str:
    """ "Artist – Title" (the file name when untagged), and for *not now* until when."""
    title = row.get("title") or (row.get("path_text") or "").rsplit("/", 1)[-1] or "?"
    artist = row.get("artist") or ""
    text = f"{artist} – {title}" if artist else title
    if row["kind"] == "not_now" and row.get("until"):
        try:
            until = dt.datetime.fromtimestamp(row["until"] / 1000)
        except (ValueError, OverflowError, OSError):  # beyond what a calendar shows
            return text
        text += f"  (until {until.strftime('%a %d %b, %H:%M')})"
    return text


class FeedbackPage(QWidget):
    """Three lists (loved, never, not now); *changed* after each removal."""

    changed = Signal()

    def __init__(self, db: sqlite_utils.Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        layout = QVBoxLayout(self)
        intro = QLabel("What you told Segue about its suggestions. Removing takes effect at once.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.lists: dict[str, QListWidget] = {}
        self.removes: dict[str, QPushButton] = {}
        for kind, (title, remove_text, _) in KINDS.items():
            box = QGroupBox(title)
            row = QHBoxLayout(box)
            items = QListWidget()
            items.setObjectName(f"feedback-{kind}")
            items.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
            remove = QPushButton(remove_text)
            remove.setObjectName(f"remove-{kind}")
            remove.setProperty("segue-kind", kind)
            items.setProperty("segue-kind", kind)
            # methods, no lambdas: a lambda holding the page crashed the player at quit
            remove.clicked.connect(self._remove_clicked)
            items.itemSelectionChanged.connect(self._selection_changed)
            side = QVBoxLayout()
            side.addWidget(remove)
            side.addStretch(1)
            row.addWidget(items, 1)
            row.addLayout(side)
            layout.addWidget(box, 1)
            self.lists[kind] = items
            self.removes[kind] = remove
        self.reload()

    def reload(self) -> None:
        rows = feedback_rows(self.db)
        for kind, items in self.lists.items():
            items.clear()
            mine = [r for r in rows if r["kind"] == kind]
            for row in mine:
                item = QListWidgetItem(row_text(row))
                item.setData(TrackRole, int(row["track_id"]))
                items.addItem(item)
            if not mine:
                empty = QListWidgetItem(KINDS[kind][2])
                empty.setFlags(Qt.ItemFlag.NoItemFlags)
                items.addItem(empty)
            self.removes[kind].setEnabled(False)

    def texts(self, kind: str) -> list[str]:
        """The tracks listed under *kind* (for tests and screenshots)."""
        items = self.lists[kind]
        return [
            items.item(i).text()
            for i in range(items.count())
            if items.item(i).data(TrackRole) is not None
        ]

    def _remove_clicked(self) -> None:
        sender = self.sender()
        if sender is not None:
            self.remove_selected(sender.property("segue-kind"))

    def _selection_changed(self) -> None:
        sender = self.sender()
        if sender is not None:
            kind = sender.property("segue-kind")
            self.removes[kind].setEnabled(bool(self.lists[kind].selectedItems()))

    def remove_selected(self, kind: FeedbackKind) -> None:
        selected = [item.data(TrackRole) for item in self.lists[kind].selectedItems()]
        for track_id in selected:
            if track_id is not None:
                clear_feedback(self.db, int(track_id), kind)
        if selected:
            self.reload()
            self.changed.emit()
