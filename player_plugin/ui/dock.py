"""The "Up next" dock: the top suggestions for the current session, each with its reason and
cover, and the actions play next, add to queue, love, not now, never suggest."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from player_plugin.ui.icons import cover_pixmap, icon

COVER = 48

# (key, icon, tooltip, plugin method)
ACTIONS = (
    ("play_next", "play-next", "Play next", "play_next"),
    ("queue", "queue-add", "Add to the queue", "add_to_queue"),
    ("love", "love", "Love", "love"),
    ("not_now", "not-now", "Not now (hide for a while)", "not_now"),
    ("never", "never", "Never suggest this", "never"),
)

METHOD_NAMES = {
    "model": "your model",
    "model-reranked": "your model",
}


class SuggestionRow(QWidget):
    """One suggestion: cover, "title — artist", the reason, and the action buttons."""

    def __init__(self, item, plugin, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = item
        self.track_id = int(item.track_id)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        cover = QLabel()
        cover.setFixedSize(COVER, COVER)
        cover.setPixmap(cover_pixmap(plugin.covers.get(bytes(item.path)), COVER))
        layout.addWidget(cover, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(1)
        self.setToolTip("Double-click: play next")
        title = QLabel(f"<b>{_escape(item.title or '?')}</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        artist = QLabel(_escape(item.artist or "Unknown artist"))
        self.reason = QLabel(item.reason or "")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #5f6670; font-size: 11px;")
        self.reason.setObjectName("reason")
        for label in (title, artist):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        text.addWidget(title)
        text.addWidget(artist)
        text.addWidget(self.reason)
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        self.buttons: dict[str, QToolButton] = {}
        for key, icon_name, tip, method in ACTIONS:
            button = QToolButton()
            button.setIcon(icon(icon_name))
            button.setIconSize(QSize(16, 16))
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.setObjectName(key)
            button.setProperty("segue-method", method)
            button.clicked.connect(self._clicked)  # a method: no lambda holding the row
            buttons.addWidget(button)
            self.buttons[key] = button
        buttons.addStretch(1)
        text.addLayout(buttons)
        layout.addLayout(text, 1)
        self._play_next = plugin.play_next
        self._plugin = plugin

    def _clicked(self) -> None:
        getattr(self._plugin, self.sender().property("segue-method"))(self.track_id)

    def mouseDoubleClickEvent(self, event) -> None:
        self._play_next(self.track_id)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class UpNextDock(QDockWidget):
    """Shows ``plugin.items``; refreshed whenever the plugin's suggestions change."""

    def __init__(self, plugin, parent: QWidget | None = None) -> None:
        super().__init__("Up next", parent)
        self.setObjectName("segue-up-next")
        self.plugin = plugin
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.header = QLabel("Suggestions appear when a track plays.")
        self.header.setObjectName("header")
        self.header.setWordWrap(True)
        self.header.setContentsMargins(8, 6, 8, 6)
        self.header.setStyleSheet("color: #5f6670;")
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        self.list_layout.setContentsMargins(0, 0, 0, 0)
        self.list_layout.setSpacing(0)
        self.list_layout.addStretch(1)
        self.scroll.setWidget(self.list)
        layout.addWidget(self.header)
        layout.addWidget(self.scroll, 1)
        self.setWidget(body)
        self.setMinimumWidth(300)
        self.rows: list[SuggestionRow] = []
        plugin.suggestions_changed.connect(self.show_items)

    def show_items(self, items) -> None:
        for row in self.rows:
            self.list_layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        method = self.plugin.method
        if items:
            source = METHOD_NAMES.get(method, f"the {method} baseline" if method else "Segue")
            self.header.setText(f"{len(items)} suggestions from {source}")
        else:
            self.header.setText("No suggestions yet: import a library and play something.")
        for position, item in enumerate(items):
            row = SuggestionRow(item, self.plugin)
            if position % 2:
                row.setAutoFillBackground(True)
                row.setBackgroundRole(QPalette.ColorRole.AlternateBase)
            self.list_layout.insertWidget(position, row)
            self.rows.append(row)
