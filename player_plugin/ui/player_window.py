"""The reference player's main window: library table with search, queue, transport, cover
art, watched library folders, and the Segue plugin docked in it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from PySide6.QtCore import (
    QByteArray,
    QFileSystemWatcher,
    QSettings,
    QSize,
    QSocketNotifier,
    Qt,
    QTimer,
)
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from player_plugin.app.player_state import STATE_KEY, PlayerState, load_state
from player_plugin.domain.words import count
from player_plugin.hosts.reference import ReferencePlayer
from player_plugin.store import library_view
from player_plugin.store.db import open_db
from player_plugin.store.folders import library_folders
from player_plugin.store.settings import get_setting
from player_plugin.store.stats import counts
from player_plugin.ui.about import show_about
from player_plugin.ui.browser import BrowserPane
from player_plugin.ui.covers import cover_bytes
from player_plugin.ui.desktop import DesktopIntegration
from player_plugin.ui.icons import cover_pixmap, icon
from player_plugin.ui.library_model import LibraryModel, PathRole, format_ms
from player_plugin.ui.playback_modes import PlaybackModes
from player_plugin.ui.plugin import SeguePlugin
from player_plugin.ui.scan_message import scan_message
from player_plugin.ui.state_keeper import StateKeeper
from player_plugin.ui.workers import TaskRunner

log = logging.getLogger(__name__)

NOW_COVER = 88
MAX_WATCHED_DIRS = 4000
RESCAN_DELAY_MS = 800


def folder_tree(roots: list[bytes], limit: int = MAX_WATCHED_DIRS) -> list[str]:
    """The folders under *roots* (inclusive) to watch, at most *limit*."""
    found: list[str] = []
    for root in roots:
        for folder, dirs, _ in os.walk(os.fsdecode(root)):
            dirs.sort()
            found.append(folder)
            if len(found) >= limit:
                return found
    return found


def _scan_in_thread(db_path: str, roots: list[bytes], cancel: threading.Event, report):
    """An incremental scan on a pool thread: plain data in, plain data out. The scan runs in
    a child process: in this process its threads stalled the event loop (scan_process)."""
    # imported here, on the pool thread: the tag readers and their process pool would add
    # about half a second to the window's start
    from player_plugin.library.scan_process import scan_in_child

    return scan_in_child(
        db_path, roots, progress=lambda p: report(int(p.done), int(p.total)), cancel=cancel
    )


def _analyse_in_thread(db_path: str, cancel: threading.Event, report):
    """Audio analysis of the tracks that need it, waited for on a pool thread; it runs in
    a child process: in this process its bookkeeping stalled the event loop."""
    # imported here, on the pool thread: the analysis job and its decoders would add to
    # the window's start
    from player_plugin.library.analysis_process import analyse_in_child

    return analyse_in_child(
        db_path, progress=lambda p: report(int(p.done), int(p.total)), cancel=cancel
    )


def quit_on_signals(window: QMainWindow, signals=(signal.SIGTERM, signal.SIGINT)) -> None:
    """Close *window* (as File ▸ Quit does: state saved, the last play ended, work stopped)
    when the process gets SIGTERM or SIGINT. For the reference player only, which owns its
    process: it sets Python's handlers for those signals and the signal wake-up fd. The
    plugin itself never does this."""
    if os.name != "posix":
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)

    def woken() -> None:
        try:
            received = reader.recv(64)
        except BlockingIOError:
            return
        if received:
            log.info("quitting on signal %s", ", ".join(str(b) for b in received))
            window.close()

    previous = {number: signal.signal(number, _ignore) for number in signals}

    def restore() -> None:  # when the window is gone: Python's handling again
        signal.set_wakeup_fd(-1)
        for number, handler in previous.items():
            signal.signal(number, handler)
        reader.close()
        writer.close()

    notifier.activated.connect(woken)
    window.destroyed.connect(restore)


def _ignore(_number: int, _frame: object) -> None:
    """The Python-level handler: the wake-up fd wakes the GUI thread, which closes."""


class PlayerWindow(QMainWindow):
    """The reference player. ``library_changed()`` re-reads the table after a scan."""

    def __init__(
        self, db_path: str | os.PathLike, *, settings: QSettings | None = None, parent=None
    ) -> None:
        super().__init__(parent)
        self.db_path = str(db_path)
        self.db = open_db(self.db_path)
        self.qsettings = settings or QSettings("segue", "player")
        self.app_title = "Segue"
        self.setWindowTitle(self.app_title)
        self.setWindowIcon(icon("segue"))
        self.setObjectName("segue-main")
        self.runner = TaskRunner(self)
        self.player = ReferencePlayer(self)
        self.plugin = SeguePlugin(self.player, self.db_path, self, runner=self.runner)
        self._scan_cancel: threading.Event | None = None
        self._analysis_cancel: threading.Event | None = None
        self._after_analysis: list = []
        self._rescan_pending = False
        self._closed = False
        self._window_written: dict[str, object] = {}  # what _save_window wrote last
        self._build()
        self.plugin.install(self)
        dock = self.plugin.dock
        assert dock is not None  # install() made it
        self.resizeDocks([self.queue_dock, dock], [180, 520], Qt.Orientation.Vertical)
        self.resizeDocks([dock], [360], Qt.Orientation.Horizontal)
        self._build_menus()
        self._connect()
        self.desktop = DesktopIntegration(self)  # MPRIS, notifications
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._folder_changed)
        self._rescan_timer = QTimer(self)
        self._rescan_timer.setSingleShot(True)
        self._rescan_timer.timeout.connect(self.rescan)
        self.watch_library()
        self.keeper = StateKeeper(
            self.db_path, self.runner, self.player_state, self._save_window, self
        )
        self._restore()
        self._connect_state()
        self.browser.reload()
        self._show_library_or_prompt()

    # -- building ---------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        # now playing
        now = QHBoxLayout()
        self.cover = QLabel()
        self.cover.setFixedSize(NOW_COVER, NOW_COVER)
        self.cover.setPixmap(cover_pixmap(None, NOW_COVER))
        self.now_title = QLabel("Nothing playing")
        self.now_title.setStyleSheet("font-size: 17px; font-weight: 600;")
        self.now_detail = QLabel("Double-click a track to play it.")
        self.now_detail.setStyleSheet("color: #5f6670;")
        texts = QVBoxLayout()
        texts.addStretch(1)
        texts.addWidget(self.now_title)
        texts.addWidget(self.now_detail)
        seek_row = QHBoxLayout()
        self.elapsed = QLabel("0:00")
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setObjectName("seek")
        self.total = QLabel("0:00")
        seek_row.addWidget(self.elapsed)
        seek_row.addWidget(self.seek, 1)
        seek_row.addWidget(self.total)
        texts.addLayout(seek_row)
        texts.addStretch(1)
        now.addWidget(self.cover)
        now.addSpacing(8)
        now.addLayout(texts, 1)
        layout.addLayout(now)
        # search + table
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search artist, album, title, genre…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self.model = LibraryModel(self.db, self, runner=self.runner, db_path=self.db_path)
        self.table = QTableView()
        self.table.setObjectName("library")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        # the title stretches into what the others leave: at the first window size (1180 px,
        # the dock and the browser open) it had 80 px of ~620 with wider columns
        for col, width in enumerate((260, 130, 150, 90, 44, 54)):
            self.table.setColumnWidth(col, width)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.browser = BrowserPane(self.db_path, self.runner)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("library-split")
        self.splitter.addWidget(self.browser)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([190, 790])
        self.library_stack = QStackedWidget()
        self.library_stack.addWidget(self.splitter)
        self.library_stack.addWidget(self._build_empty_state())
        layout.addWidget(self.library_stack, 1)
        self.setCentralWidget(central)
        # transport toolbar
        bar = QToolBar("Transport")
        bar.setObjectName("transport")
        bar.setIconSize(QSize(22, 22))
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, bar)
        self.transport: dict[str, QAction] = {}
        for key, icon_name, text, shortcut, media, slot in (
            (
                "previous",
                "previous",
                "Previous",
                "Ctrl+Left",
                "Media Previous",
                self.player.previous,
            ),
            (
                "play",
                "play",
                "Play/Pause",
                "Ctrl+Space",
                "Toggle Media Play/Pause",
                self.player.toggle,
            ),
            ("stop", "stop", "Stop", "Ctrl+.", "Media Stop", self.player.stop),
            ("next", "next", "Next", "Ctrl+Right", "Media Next", self.player.next),
        ):
            action = QAction(icon(icon_name), text, self)
            action.setShortcuts([QKeySequence(shortcut), QKeySequence(media)])
            action.setToolTip(f"{text} ({shortcut})")
            action.triggered.connect(slot)
            bar.addAction(action)
            self.transport[key] = action
        self._play_icon = "play"  # the icon the play action shows (see _state)
        self.modes = PlaybackModes(self.player, self.plugin, self.runner, self.db_path, self)
        self.modes.add_buttons(bar)
        self.shuffle_button, self.repeat_button = (
            self.modes.shuffle_button,
            self.modes.repeat_button,
        )
        bar.addSeparator()
        volume_icon = QLabel()
        volume_icon.setPixmap(icon("volume").pixmap(18, 18))
        bar.addWidget(volume_icon)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setObjectName("volume")
        self.volume.setRange(0, 100)
        self.volume.setFixedWidth(120)
        self.volume.setValue(80)
        self.player.set_volume(80)
        bar.addWidget(self.volume)
        # queue dock
        self.queue_dock = QDockWidget("Queue", self)
        self.queue_dock.setObjectName("segue-queue")
        body = QWidget()
        qlayout = QVBoxLayout(body)
        qlayout.setContentsMargins(0, 0, 0, 0)
        self.queue_list = QListWidget()
        self.queue_list.setObjectName("queue")
        self.queue_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.queue_list.model().rowsMoved.connect(self._queue_dragged)
        qlayout.addWidget(self.queue_list, 1)
        buttons = QHBoxLayout()
        self.queue_buttons: dict[str, QToolButton] = {}
        for key, icon_name, tip in (
            ("up", "up", "Move up"),
            ("down", "down", "Move down"),
            ("remove", "remove", "Remove from the queue (Del)"),
        ):
            button = QToolButton()
            button.setIcon(icon(icon_name))
            button.setToolTip(tip)
            button.setAutoRaise(True)
            buttons.addWidget(button)
            self.queue_buttons[key] = button
        buttons.addStretch(1)
        qlayout.addLayout(buttons)
        self.queue_dock.setWidget(body)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.queue_dock)
        # status bar
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.logging_sign = QPushButton("⏸ Play logging paused — click to resume")
        self.logging_sign.setObjectName("logging-paused")
        self.logging_sign.setFlat(True)
        self.logging_sign.setToolTip("Plays are not being recorded. Click to record them again.")
        self.logging_sign.setStyleSheet("color: #9a5b00; font-weight: 600;")
        self.logging_sign.hide()
        self.statusBar().addPermanentWidget(self.logging_sign)
        self.counts = QLabel()
        self.statusBar().addPermanentWidget(self.counts)
        self._update_counts()

    def _build_empty_state(self) -> QWidget:
        """What an empty library shows (say, the first-run wizard was cancelled)."""
        page = QWidget()
        page.setObjectName("add-your-music")
        box = QVBoxLayout(page)
        box.addStretch(1)
        title = QLabel("Add your music")
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        text = QLabel(
            "Choose the folders that hold your music: Segue reads their tags, keeps "
            "watching them, and suggests what to play next from what you play."
        )
        text.setWordWrap(True)
        text.setMaximumWidth(460)
        self.add_music = QPushButton(icon("import"), "Add your music…")
        self.add_music.setObjectName("add-music")
        for widget in (title, text, self.add_music):
            box.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addStretch(2)
        return page

    def library_empty(self) -> bool:
        """Whether the "Add your music" page shows (no tracks at all, no folder)."""
        return self.library_stack.currentIndex() == 1

    def _show_library_or_prompt(self) -> None:
        empty = counts(self.db)["tracks"] == 0 and not self.library_folders()
        self.library_stack.setCurrentIndex(1 if empty else 0)

    def _build_menus(self) -> None:
        file_menu = QMenu("&File", self)
        self.menuBar().insertMenu(self.menuBar().actions()[0], file_menu)
        rescan = QAction("&Rescan library", self)
        rescan.setShortcut(QKeySequence("Ctrl+R"))
        rescan.triggered.connect(self.rescan)
        file_menu.addAction(rescan)  # (Import library… is in the Segue menu, only there)
        file_menu.addSeparator()
        quit_action = self.quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        play_menu = self.menuBar().addMenu("&Playback")
        for action in self.transport.values():
            play_menu.addAction(action)
        find = QAction("&Find", self)
        find.setShortcut(QKeySequence("Ctrl+F"))
        find.triggered.connect(self._find)
        self.addAction(find)
        space = QAction("Play/Pause", self.table)
        space.setShortcut(QKeySequence("Space"))
        space.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        space.triggered.connect(self.player.toggle)
        self.table.addAction(space)
        volume_up = QAction("Louder", self)
        volume_up.setShortcut(QKeySequence("Ctrl+Up"))
        volume_up.triggered.connect(self._louder)
        volume_down = QAction("Quieter", self)
        volume_down.setShortcut(QKeySequence("Ctrl+Down"))
        volume_down.triggered.connect(self._quieter)
        for action in (volume_up, volume_down):
            self.addAction(action)
            play_menu.addAction(action)
        play_menu.addSeparator()
        self.modes.add_menus(play_menu)
        self.shuffle_actions, self.repeat_actions = (
            self.modes.shuffle_actions,
            self.modes.repeat_actions,
        )
        remove = QAction("Remove from queue", self.queue_list)
        remove.setShortcut(QKeySequence.StandardKey.Delete)
        remove.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        remove.triggered.connect(self._remove_queued)
        self.queue_list.addAction(remove)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.queue_dock.toggleViewAction())
        if self.plugin.dock is not None:
            view_menu.addAction(self.plugin.dock.toggleViewAction())
        browse = self.browse_action = QAction("&Artists and albums", self)
        browse.setCheckable(True)
        browse.setChecked(True)
        browse.toggled.connect(self.browser.setVisible)
        view_menu.addAction(browse)
        help_menu = self.menuBar().addMenu("&Help")
        about = self.about_action = QAction("&About Segue", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _connect(self) -> None:
        """Signals to bound methods only: PySide holds those weakly, while a lambda that
        captures ``self`` keeps the window's wrapper alive from inside Qt, to be released
        in the middle of the window's own destruction (seen as a crash at quit)."""
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(self._search_changed)
        self.table.doubleClicked.connect(self._play_index)
        self.table.activated.connect(self._play_index)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.player.track_started.connect(self._now_playing)
        self.player.queue_changed.connect(self._show_queue)
        self.player.position_changed.connect(self._position)
        self.player.duration_changed.connect(self._duration)
        self.player.state_changed.connect(self._state, Qt.ConnectionType.QueuedConnection)
        self.player.error.connect(self.show_error)
        self.seek.sliderMoved.connect(self.player.seek)
        self.volume.valueChanged.connect(self.player.set_volume)
        self.queue_list.itemDoubleClicked.connect(self._play_queued)
        self.queue_buttons["up"].clicked.connect(self._move_up)
        self.queue_buttons["down"].clicked.connect(self._move_down)
        self.queue_buttons["remove"].clicked.connect(self._remove_queued)
        self.plugin.status.connect(self.show_message)
        self.plugin.play_logged.connect(self._play_logged)
        self.plugin.training_started.connect(self._training_started)
        self.plugin.training_finished.connect(self._training_finished)
        self.player.cued.connect(self._cued)
        self.browser.chosen.connect(self.model.set_filter)
        self.logging_sign.clicked.connect(self._resume_logging)
        self.add_music.clicked.connect(self.plugin.open_import_wizard)
        self.model.refreshed.connect(self._show_library_or_prompt)
        self.plugin.actions["pause"].toggled.connect(self._show_logging)
        self._show_logging(self.plugin.logging_paused())

    def _connect_state(self) -> None:
        """Everything worth keeping saves (debounced) as it changes."""
        keeper = self.keeper
        for changed in (
            self.player.queue_changed,
            self.player.track_started,
            self.player.state_changed,
            self.player.modes_changed,
            self.player.cued,
            self.volume.valueChanged,
        ):
            changed.connect(keeper.changed)
        self.player.position_changed.connect(keeper.moved)
        self.seek.sliderReleased.connect(keeper.changed)
        keeper.enabled = True

    # -- play logging sign ------------------------------------------------------------
    def _show_logging(self, paused: bool) -> None:
        self.logging_sign.setVisible(bool(paused))

    def _resume_logging(self) -> None:
        self.plugin.set_logging_paused(False)

    def _about(self) -> None:
        show_about(self, self.db_path)

    def _find(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _louder(self) -> None:
        self.volume.setValue(self.volume.value() + 5)

    def _quieter(self) -> None:
        self.volume.setValue(self.volume.value() - 5)

    def _search_changed(self, _text: str) -> None:
        self._search_timer.start()

    def _apply_search(self) -> None:
        self.model.set_search(self.search.text())

    def _move_up(self) -> None:
        self._move_queued(-1)

    def _move_down(self) -> None:
        self._move_queued(1)

    def _play_logged(self, _play_id: int) -> None:
        self._update_counts()

    def _training_started(self) -> None:
        self._busy(True)

    def _training_finished(self, *_: object) -> None:
        self._busy(False)

    # -- library ----------------------------------------------------------------------
    def library_changed(self) -> None:
        self.model.refresh()
        self.browser.reload()
        self._update_counts()
        self.watch_library()

    def _update_counts(self) -> None:
        c = counts(self.db)
        self.counts.setText(f"{count(c['tracks'], 'track')} · {count(c['plays'], 'play')}")

    def library_folders(self) -> list[bytes]:
        return library_folders(self.db)

    def watch_library(self) -> None:
        """Watch every library folder (in the background: walking can take a while)."""
        roots = self.library_folders()
        if not roots:
            return
        self.runner.run_task(lambda: folder_tree(roots), self._watch, key="watch")

    def _watch(self, folders: list[str]) -> None:
        """Watch *folders*: only the difference changes, so no event is missed meanwhile."""
        old, new = set(self.watcher.directories()), set(folders)
        if old - new:
            self.watcher.removePaths(sorted(old - new))
        if new - old:
            failed = self.watcher.addPaths(sorted(new - old))
            if failed:  # vanished since the walk: the library changed again
                self._rescan_timer.start(RESCAN_DELAY_MS)

    def _folder_changed(self, _path: str) -> None:
        self._rescan_timer.start(RESCAN_DELAY_MS)

    def rescan(self) -> None:
        """Incremental rescan of the library folders in the background."""
        if self.plugin.closing:  # closed (the store with it): a late timer does nothing
            return
        roots = self.library_folders()
        if not roots:
            self.show_message("No library folders yet: use Segue ▸ Import library…")
            return
        if self._scan_cancel is not None:
            self._rescan_pending = True
            return
        cancel = self._scan_cancel = threading.Event()
        db_path = self.db_path
        self._busy(True)
        self.runner.run_task(
            lambda report: _scan_in_thread(db_path, roots, cancel, report),
            self._scanned,
            on_error=self._scan_failed,
            on_progress=self._scan_progress,
        )

    def _scan_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.statusBar().showMessage(f"Scanning… {done:,} of {total:,}")

    def _scanned(self, summary) -> None:
        self._scan_done()
        changed = sum(getattr(summary, k, 0) for k in ("added", "updated", "moved", "removed"))
        self.show_message(scan_message(summary))
        if changed:
            self.library_changed()
            self.plugin.refresh()
            self.analyse()

    def _scan_failed(self, message: str) -> None:
        self._scan_done()
        self.show_error(f"Scan failed: {message}")

    def _scan_done(self) -> None:
        self._scan_cancel = None
        self._busy(False)
        if self._rescan_pending:
            self._rescan_pending = False
            self._rescan_timer.start(RESCAN_DELAY_MS)

    def analyse(self, then=None) -> None:
        """Compute audio features for tracks that lack them, in the background; *then()*
        runs afterwards (also when nothing needed analysing or it failed)."""
        if then is not None:
            self._after_analysis.append(then)
        if self._analysis_cancel is not None:
            return
        if not self.plugin.prefs.analyse_audio:
            self._analysed(None)
            return
        cancel = self._analysis_cancel = threading.Event()
        self._busy(True)
        db_path = self.db_path
        self.runner.run_task(
            lambda report: _analyse_in_thread(db_path, cancel, report),
            self._analysed,
            on_error=lambda message: self._analysed(None, message),
            on_progress=self._analysis_progress,
        )

    def _analysis_progress(self, done: int, total: int) -> None:
        if self._analysis_cancel is None:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.statusBar().showMessage(f"Analysing audio… {done:,} of {total:,}")

    def _analysed(self, summary, error: str = "") -> None:
        self._analysis_cancel = None
        self._busy(False)
        if error:
            self.show_error(f"Audio analysis: {error}")
        elif summary is not None and (summary.analysed or summary.failed):
            self.show_message(
                f"Audio analysed: {count(summary.analysed, 'track')}"
                + (f", {summary.failed:,} could not be read" if summary.failed else "")
            )
            self.plugin.refresh()
        waiting, self._after_analysis = self._after_analysis, []
        for then in waiting:
            then()

    # -- playing ----------------------------------------------------------------------
    def _play_index(self, index) -> None:
        path = self.model.data(index, PathRole)
        if path:
            self.player.play_path(path)

    def _selected_paths(self) -> list[bytes]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [p for p in (self.model.data(self.model.index(r, 0), PathRole) for r in rows) if p]

    def _table_menu(self, pos) -> None:
        paths = self._selected_paths()
        if not paths:
            return
        player = self.player  # the menu's actions hold the player, not the window

        def play_next() -> None:
            for path in reversed(paths):
                player.enqueue(path, next=True)

        def add_to_queue() -> None:
            for path in paths:
                player.enqueue(path)

        menu = QMenu(self)
        menu.addAction(icon("play"), "Play", lambda: player.play_path(paths[0]))
        menu.addAction(icon("play-next"), "Play next", play_next)
        menu.addAction(icon("queue-add"), "Add to queue", add_to_queue)
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def _describe(self, path: bytes) -> tuple[str, str]:
        found = library_view.track_words(self.db, path)
        return found or (os.fsdecode(path).rsplit("/", 1)[-1], "")

    def _now_playing(self, path: bytes) -> None:
        title, detail = self._describe(path)
        self.now_title.setText(title)
        self.now_detail.setText(detail)
        self.setWindowTitle(f"{title} — {self.app_title}")
        self.model.set_playing(path, icon("play"))
        self.runner.run_task(
            lambda: cover_bytes(path),
            lambda data: self.cover.setPixmap(cover_pixmap(data, NOW_COVER)),
            key="cover",
        )

    def _cued(self, path: bytes) -> None:
        """A restored track, paused where it was: shown as playing, marked in the table."""
        self._now_playing(path)
        track = library_view.track_brief(self.db, path)
        if track is not None and track["duration_ms"]:
            self._duration(int(track["duration_ms"]))
        self._state("paused")

    def _show_queue(self) -> None:
        """One row per track ("title — artist", the album in its tooltip), and a count."""
        self.queue_list.clear()
        paths = self.player.queue()
        for path in paths:
            title, detail = self._describe(path)
            item = QListWidgetItem(f"{title} — {detail.split(' — ')[0]}" if detail else title)
            item.setToolTip(f"{title}\n{detail}" if detail else title)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.queue_list.addItem(item)
        n = len(paths)
        self.queue_dock.setWindowTitle(f"Queue · {count(n, 'track')}" if n else "Queue")

    def _queue_dragged(self, _parent, start: int, _end: int, _dest, row: int) -> None:
        self.player.move(start, row - 1 if row > start else row)

    def _move_queued(self, step: int) -> None:
        row = self.queue_list.currentRow()
        if row >= 0:
            self.player.move(row, row + step)
            self.queue_list.setCurrentRow(max(0, min(row + step, self.queue_list.count() - 1)))

    def _remove_queued(self) -> None:
        row = self.queue_list.currentRow()
        if row >= 0:
            self.player.remove(row)

    def _play_queued(self, item: QListWidgetItem) -> None:
        row = self.queue_list.row(item)
        path = item.data(Qt.ItemDataRole.UserRole)
        self.player.remove(row)
        self.player.play_path(path)

    def _position(self, ms: int) -> None:
        if not self.seek.isSliderDown():
            self.seek.setValue(ms)
        self.elapsed.setText(format_ms(ms) or "0:00")

    def _duration(self, ms: int) -> None:
        self.seek.setRange(0, max(0, ms))
        self.total.setText(format_ms(ms) or "0:00")

    def _state(self, _emitted: str) -> None:
        """The play button and the playing row follow the player's state as it is now.

        Queued, and the icon set only when it changes: a media call such as ``setSource``
        emits the state from inside (Python's lock taken back for the slot) while
        QtMultimedia's threads delete the last track's renderers and wait, holding a Qt
        mutex, for that lock (see ``hosts.reference.released``); a new icon on a toolbar's
        action reconnects its button, which takes such a mutex — the player froze so in
        a test, mid-track change. Later, from the event loop, both ends of a track change
        (stopped, then playing) read "playing": the icon does not move."""
        player = self.player
        state = player.state
        name = "pause" if state == "playing" else "play"
        if name != self._play_icon:
            self._play_icon = name
            self.transport["play"].setIcon(icon(name))
        if state == "stopped" and player.current_track() is None and not player.cued_track():
            self.model.set_playing(None)

    # -- messages ---------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_error(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    def _busy(self, busy: bool) -> None:
        if busy:
            self.progress.setRange(0, 0)
            self.progress.show()
        elif (
            self._scan_cancel is None
            and self._analysis_cancel is None
            and not self.plugin.training_running
        ):
            self.progress.hide()

    # -- state ------------------------------------------------------------------------
    def _restore(self) -> None:
        s = self.qsettings
        geometry = s.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 720)
        state = s.value("state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        header = s.value("header")
        if isinstance(header, QByteArray):
            self.table.horizontalHeader().restoreState(header)
        volume = s.value("volume")
        if volume is not None:
            self.volume.setValue(int(volume))
        splitter = s.value("splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        self.browse_action.setChecked(not self.browser.isHidden())
        self._restore_player()

    def _restore_player(self) -> None:
        """The queue, the track (paused where it was), volume, shuffle and repeat as they
        were when the player last ran (or was killed)."""
        if get_setting(self.db, STATE_KEY) is None:
            return
        state = load_state(self.db)
        self.volume.setValue(state.volume)
        self.player.set_shuffle(state.shuffle)
        self.player.set_repeat(state.repeat)
        self.player.replace_queue(state.queue)
        if state.current is not None:
            self.player.cue(state.current, state.position_ms)
        self.modes.show()

    def player_state(self) -> PlayerState:
        """The player's state now, as plain data."""
        snap = self.player.snapshot()
        return PlayerState(
            queue=snap["queue"],
            current=snap["current"],
            position_ms=snap["position_ms"],
            volume=self.volume.value(),
            shuffle=snap["shuffle"],
            repeat=snap["repeat"],
        )

    def _save_window(self) -> None:
        """Write the window's state to its settings file, unless it is what was written
        last (the keeper calls this with every save of the player's state, every few
        seconds while playing; writing the file took 8-40 ms of the GUI thread)."""
        values = {
            "geometry": self.saveGeometry(),
            "state": self.saveState(),
            "header": self.table.horizontalHeader().saveState(),
            "splitter": self.splitter.saveState(),
            "volume": self.volume.value(),
        }
        written = {k: v.data() if isinstance(v, QByteArray) else v for k, v in values.items()}
        if written == self._window_written:
            return
        s = self.qsettings
        for key, value in values.items():
            s.setValue(key, value)
        s.sync()
        self._window_written = written

    def save_state(self) -> None:
        self._save_window()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if hasattr(self, "keeper") and not self._closed:
            self.keeper.changed()

    def moveEvent(self, event) -> None:
        super().moveEvent(event)
        if hasattr(self, "keeper") and not self._closed:
            self.keeper.changed()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the window state; end the play as stopped; stop scans and training cleanly."""
        if self._closed:  # closed before (e.g. File ▸ Quit, then the test's own close)
            super().closeEvent(event)
            return
        self._closed = True
        self.save_state()
        state = self.player_state()  # before the player lets go of its track
        self.keeper.enabled = False
        self.plugin.closing = True  # the last play ends now: no retraining on the way out
        for cancel in (self._scan_cancel, self._analysis_cancel):
            if cancel is not None:
                cancel.set()
        self.desktop.close()
        self.player.shutdown()
        self.plugin.shutdown()  # waits for the pool: no older state is written after this
        self.keeper.flush(self.db, state)
        self.db.close()
        super().closeEvent(event)
