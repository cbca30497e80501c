"""The "Up next" dock: the top suggestions for the current session, each with its reason and
cover, and the actions play next, add to queue, love (a toggle), not now, never suggest.

Acting on a row never moves another row under the pointer: the acted-on row stays where it
is, greyed, saying what happened, and a new list is shown only once the pointer has left
the dock. *Never* and *Not now* offer *Undo* for ten seconds in a bar at the bottom of the
dock (below the rows, so showing it moves none of them).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from player_plugin.domain.words import count
from player_plugin.ui.icons import cover_pixmap, icon

COVER = 48
UNDO_MS = 10_000  # how long *Never* and *Not now* can be undone
SPARE_ROWS = 10  # rows made ahead of time when the plugin has no preference
SPARE_IDLE_MS = 20  # between two rows made ahead of time

# (key, icon, tooltip, plugin method)
ACTIONS = (
    ("play_next", "play-next", "Play next", "play_next"),
    ("queue", "queue-add", "Add to the queue", "add_to_queue"),
    ("love", "love-outline", "Love", "toggle_love"),
    ("not_now", "not-now", "Not now (hide for a while)", "not_now"),
    ("never", "never", "Never suggest this", "never"),
)

DONE_TEXT = {
    "play_next": "Plays next",
    "queue": "Added to the queue",
    "not_now": "Hidden for now",
    "never": "Won't be suggested again",
}


def track_name(item) -> str:
    """ "Artist – Title" of a suggestion."""
    title = item.title or "?"
    return f"{item.artist} – {title}" if item.artist else title


class SuggestionRow(QWidget):
    """One suggestion: cover, "title — artist", the reason, and the action buttons."""

    def __init__(self, item, plugin, loved: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = None
        self.track_id = -1
        self.done = ""  # the action taken on this row, if any
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.cover = QLabel()
        self.cover.setFixedSize(COVER, COVER)
        layout.addWidget(self.cover, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(1)
        self.setToolTip("Double-click: play next")
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.artist = QLabel()
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #5f6670; font-size: 11px;")
        self.reason.setObjectName("reason")
        for label in (self.title, self.artist):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        text.addWidget(self.title)
        text.addWidget(self.artist)
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
        self.buttons["love"].setCheckable(True)
        buttons.addStretch(1)
        text.addLayout(buttons)
        layout.addLayout(text, 1)
        self._plugin = plugin
        if item is not None:
            self.bind(item, loved)

    def bind(self, item, loved: bool = False) -> None:
        """Show *item* (once: a row stands for one suggestion for as long as it lives; a
        row made ahead of time, in idle time, is bound when a list needs it)."""
        self.item = item
        self.track_id = int(item.track_id)
        self.cover.setPixmap(cover_pixmap(self._plugin.covers.get(bytes(item.path)), COVER))
        self.title.setText(f"<b>{_escape(item.title or '?')}</b>")
        self.artist.setText(_escape(item.artist or "Unknown artist"))
        self.reason.setText(item.reason or "")
        self.set_loved(loved)

    @property
    def loved(self) -> bool:
        return self.buttons["love"].isChecked()

    def set_loved(self, loved: bool) -> None:
        """Show the heart filled (loved) or as an outline."""
        button = self.buttons["love"]
        button.setChecked(loved)
        button.setIcon(icon("love" if loved else "love-outline"))
        button.setToolTip("Loved: click to take it back" if loved else "Love")

    def _clicked(self) -> None:
        button = self.sender()
        if self.done or button is None:
            return
        key = button.objectName()
        done = getattr(self._plugin, button.property("segue-method"))(self.track_id)
        if key == "love":
            self.set_loved(bool(done))
        else:
            self.mark_done(key)

    def mark_done(self, key: str) -> None:
        """Grey the row where it is and say what happened; its height does not change."""
        self.setFixedHeight(self.height())
        self.done = key
        for button in self.buttons.values():
            button.setEnabled(False)
        self.reason.setText(DONE_TEXT.get(key, ""))
        self.setStyleSheet("color: #9aa1aa;")

    def mouseDoubleClickEvent(self, event) -> None:
        if not self.done:
            self._plugin.play_next(self.track_id)
            self.mark_done("play_next")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class UndoBar(QFrame):
    """ "Won't suggest Artist – Title again  [Undo]" for :data:`UNDO_MS`, then hides;
    ``undone`` when *Undo* is pressed."""

    undone = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("undo-bar")
        self.setStyleSheet("#undo-bar { background: #fdf3d8; border-top: 1px solid #e2d3a6; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.button = QPushButton("Undo")
        self.button.setObjectName("undo")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)  # ten seconds, not 10.5
        self.timer.timeout.connect(self.hide)
        self.button.clicked.connect(self._undo)
        self.hide()

    def offer(self, text: str, ms: int = UNDO_MS) -> None:
        """Show *text* with *Undo* for *ms*; replaces an older offer."""
        self.label.setText(text)
        self.timer.start(ms)
        self.show()

    def _undo(self) -> None:
        self.timer.stop()
        self.hide()
        self.undone.emit()


class UpNextDock(QDockWidget):
    """Shows ``plugin.items``; refreshed whenever the plugin's suggestions change, but
    never while the pointer is over the dock (the new list waits until it leaves)."""

    def __init__(self, plugin, parent: QWidget | None = None) -> None:
        super().__init__("Up next", parent)
        self.setObjectName("segue-up-next")
        self.plugin = plugin
        self.undo_ms = UNDO_MS
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.header = QLabel("Suggestions appear when a track plays.")
        self.header.setObjectName("header")
        self.header.setWordWrap(True)
        self.header.setContentsMargins(8, 6, 8, 6)
        self.header.setStyleSheet("color: #5f6670;")
        self.scroll_area = QScrollArea()  # (`scroll` is a QWidget method)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        self.list_layout.setContentsMargins(0, 0, 0, 0)
        self.list_layout.setSpacing(0)
        self.list_layout.addStretch(1)
        self.scroll_area.setWidget(self.list)
        self.undo_bar = UndoBar()
        self.undo_bar.undone.connect(self._undo)  # a method: no lambda holding the dock
        self._undo_target: tuple[int, str] | None = None
        layout.addWidget(self.header)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.undo_bar)
        self.setWidget(body)
        self.setMinimumWidth(300)
        self.rows: list[SuggestionRow] = []
        self._spares: list[SuggestionRow] = []  # rows made ahead of time, not shown yet
        self._spare_timer = QTimer(self)
        self._spare_timer.setSingleShot(True)
        self._spare_timer.setInterval(SPARE_IDLE_MS)
        self._spare_timer.timeout.connect(self._make_spare)  # a method: no lambda
        self._spare_timer.start()
        self.hovered = False
        self.pending: list | None = None  # a list waiting for the pointer to leave
        plugin.suggestions_changed.connect(self.show_items)
        if hasattr(plugin, "suggestions_pending"):
            plugin.suggestions_pending.connect(self.show_pending)
        if hasattr(plugin, "hidden"):
            plugin.hidden.connect(self.offer_undo)

    # -- the pointer --------------------------------------------------------------------
    def enterEvent(self, event) -> None:
        self.hovered = True
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        self.hovered = False
        super().leaveEvent(event)
        if self.pending is not None:
            items, self.pending = self.pending, None
            self.show_items(items)

    # -- the list -----------------------------------------------------------------------
    def show_items(self, items) -> None:
        if self.hovered and self.rows:
            self.pending = list(items)  # shown when the pointer leaves
            return
        self.pending = None
        for row in self.rows:
            self.list_layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        if items:
            source = getattr(self.plugin, "source_words", "") or ""
            self.header.setText(f"{count(len(items), 'suggestion')} {source}".strip())
        else:
            self.header.setText("No suggestions yet: import a library and play something.")
        loved: set[int] = getattr(self.plugin, "loved", set())
        for position, item in enumerate(items):
            row = self._spares.pop() if self._spares else self._new_row()
            row.bind(item, loved=int(item.track_id) in loved)
            if position % 2:
                row.setAutoFillBackground(True)
                row.setBackgroundRole(QPalette.ColorRole.AlternateBase)
            self.list_layout.insertWidget(position, row)
            row.show()
            self.rows.append(row)
        self._spare_timer.start()  # rows for the next list, made in idle time

    def show_pending(self) -> None:
        """A list is being made: said while none is shown (the first after a start can
        take seconds with a long history); a list shown stays until the new one comes."""
        if not self.rows:
            self.header.setText("Finding what to play next…")

    # -- rows made ahead of time ----------------------------------------------------------
    def _new_row(self) -> SuggestionRow:
        return SuggestionRow(None, self.plugin, parent=self.list)

    def _make_spare(self) -> None:
        """One row for the next list, made while the event loop is idle: a list of new
        suggestions then only fills rows in (making ten rows at once, right after a scan,
        was one long stall of the event loop)."""
        if len(self._spares) >= self._spare_target():
            return
        row = self._new_row()
        row.hide()
        row.ensurePolished()
        self._spares.append(row)
        self._spare_timer.start()

    def _spare_target(self) -> int:
        prefs = getattr(self.plugin, "prefs", None)
        wanted = getattr(prefs, "suggestions", SPARE_ROWS)
        return wanted if isinstance(wanted, int) and wanted > 0 else SPARE_ROWS

    def offer_undo(self, track_id: int, kind: str, text: str) -> None:
        """After *Never* or *Not now*: the undo bar naming the track, for ten seconds."""
        self._undo_target = (int(track_id), kind)
        self.undo_bar.offer(text, ms=self.undo_ms)

    def _undo(self) -> None:
        target, self._undo_target = self._undo_target, None
        if target is not None:
            self.plugin.undo_feedback(*target)
