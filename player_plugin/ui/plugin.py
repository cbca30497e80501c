"""The Segue plugin: logs plays from a Host's signals, suggests what to play next, auto-plays.

Give it any :class:`~player_plugin.hosts.base.Host` and a database path::

    plugin = SeguePlugin(host, db_path)
    plugin.install(main_window)   # the "Up next" dock and a Segue menu

The host never touches the database: every play is written when its track starts and
completed when it ends (so a crash keeps the play so far). Suggestions, scans and other
slow work run on a thread pool; so does *Retrain now* (its trainer is a child process).
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QWidget

from player_plugin.app import autotrain, playlist
from player_plugin.app.playlog import TOUCH_MS, PlayLog
from player_plugin.app.retrain import RetrainResult
from player_plugin.app.settings import Settings
from player_plugin.app.source import Source, source_of
from player_plugin.app.suggest import UnknownTrack, suggestions
from player_plugin.domain.clock import now_ms
from player_plugin.domain.training_events import TrainingEvent
from player_plugin.domain.words import count
from player_plugin.hosts.base import Host
from player_plugin.store import library_view
from player_plugin.store.db import open_db
from player_plugin.store.feedback import (
    FeedbackKind,
    add_feedback,
    clear_feedback,
    loved_track_ids,
)
from player_plugin.store.settings import logging_paused, set_logging_paused
from player_plugin.ui.covers import cover_bytes
from player_plugin.ui.dock import UpNextDock
from player_plugin.ui.prefs import Prefs
from player_plugin.ui.settings_dialog import SettingsDialog
from player_plugin.ui.workers import TaskRunner, TrainingJob, error_line, learning_words

log = logging.getLogger(__name__)


class Fetched(NamedTuple):
    """What a suggestions worker returns (plain data)."""

    result: Any
    items: list
    covers: dict[bytes, bytes | None]
    source: Source
    loved: set[int]


def fetch_suggestions(
    db_path: str,
    n: int,
    after: bytes | None,
    settings: Settings,
    playing: bytes | None,
    queued: list[bytes],
) -> Any:
    """Suggestions for the current session, in a worker thread (its own connection):
    :func:`player_plugin.app.suggest.suggestions`, which leaves out the track *playing*,
    the *queued* ones and everything else never to suggest; with where they come from
    (:func:`player_plugin.app.source.source_of`) and the loved track ids.

    *after* is the track playing when its play is not in the log (logging paused, or not
    in the library); otherwise the logged session already ends with it. Covers are read
    here too, so the GUI thread never reads a file.
    """
    db = open_db(db_path)
    try:
        try:
            result = suggestions(
                db, n, after=after, settings=settings, playing=playing, queued=queued
            )
        except UnknownTrack:  # the playing file is not (or no longer) in the library
            result = suggestions(db, n, settings=settings, playing=playing, queued=queued)
        source = source_of(db, result.method, result.model_id)
        loved = loved_track_ids(db)
    finally:
        db.close()
    items = list(result.items)
    covers = {bytes(item.path): cover_bytes(bytes(item.path)) for item in items}
    return Fetched(result, items, covers, source, loved)


RADIO_TRACKS = 50
RADIO_FILTER = "Playlists (*.m3u8 *.xspf *.jspf)"
CANCELLED = "training cancelled"  # TrainingJob's error when it was cancelled


def _write_radio(db_path: str, target: str, n: int) -> str:
    """The worker's part of *Save radio as playlist*: plain data in, a message out."""
    db = open_db(db_path)
    try:
        entries = playlist.walk(db, n)
    finally:
        db.close()
    playlist.write(entries, target, playlist.format_for(target, None))
    return f"Saved a radio of {count(len(entries), 'track')} to {os.path.basename(target)}"


class SeguePlugin(QObject):
    """Plugs Segue into a host: play logging, the "Up next" dock, menu actions, auto-play."""

    suggestions_changed = Signal(object)  # list of suggestion items (covers in .covers)
    suggestions_pending = Signal()  # a new list is being made (a first one may take a while)
    status = Signal(str)  # one line for the status bar
    hidden = Signal(int, str, str)  # track id, "never"/"not_now", the line naming it (undo)
    play_logged = Signal(int)  # a play row was completed
    training_started = Signal()
    training_progress = Signal(object)  # a training event (domain.training_events)
    training_finished = Signal(object, str)  # RetrainResult or None, error line or ""
    radio_saved = Signal(str)  # the line saying where a radio playlist went ("" failed)

    def __init__(
        self,
        host: Host,
        db_path: str | os.PathLike,
        parent: QObject | None = None,
        *,
        runner: TaskRunner | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(parent or host)
        self.host = host
        self.db_path = str(db_path)
        self.db = open_db(self.db_path)
        self.prefs = Prefs.load(self.db)
        self.runner = runner or TaskRunner(self)
        self.clock = clock
        self.window: QMainWindow | None = None
        self.dock: UpNextDock | None = None  # made by install() or make_dock()
        self.menu: QMenu | None = None
        self.actions: dict[str, QAction] = {}
        self.items: list = []
        self.covers: dict[bytes, bytes | None] = {}
        self.method = ""
        self.source_words = ""  # where the suggestions come from, in music words
        self.loved: set[int] = set()
        self.training: TrainingJob | None = None
        self.playlog = PlayLog(self.db, clock=clock)  # the play log (app.playlog)
        self._open = self.playlog.open  # path -> play id being written
        self._sources: dict[bytes, str] = {}  # paths the plugin queued -> play source
        self._autoplay_pending = False
        self.closing = False  # set while the host shuts down: no new work starts
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._idle_timeout)
        self._touch_timer = QTimer(self)
        self._touch_timer.setInterval(TOUCH_MS)
        self._touch_timer.timeout.connect(self.touch)
        self._touch_timer.start()
        host.track_started.connect(self._track_started)
        host.track_ended.connect(self._track_ended)
        host.queue_changed.connect(self._queue_changed)
        self._restart_idle()

    # -- wiring into a window ---------------------------------------------------------
    def install(self, window: QMainWindow, menu_title: str = "&Segue") -> None:
        """Add the "Up next" dock and the Segue menu to *window*."""
        self.window = window
        dock = self.make_dock(window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.menu = window.menuBar().addMenu(menu_title)
        self._add_menu_actions(self.menu)
        self.refresh()

    def make_dock(self, parent: QWidget | None = None) -> UpNextDock:
        dock = UpNextDock(self, parent)
        self.dock = dock
        return dock

    def _add_menu_actions(self, menu: QMenu) -> None:
        def add(key: str, text: str, slot, shortcut: str | None = None, checkable=False):
            action = QAction(text, menu)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.setCheckable(checkable)
            action.triggered.connect(slot)
            menu.addAction(action)
            self.actions[key] = action
            return action

        add("import", "&Import library…", self.open_import_wizard, "Ctrl+I")
        add("retrain", "&Retrain now", self.retrain)
        add("report", "&Model report", self.open_model_report)
        add("settings", "S&ettings…", self.open_settings, "Ctrl+,")
        add("playlist", "Save &radio as playlist…", self.choose_radio_file)
        menu.addSeparator()
        add("autoplay", "&Auto-play suggestions", self.set_autoplay, checkable=True).setChecked(
            self.prefs.autoplay
        )
        add("pause", "&Pause play logging", self.set_logging_paused, checkable=True).setChecked(
            self.logging_paused()
        )
        add("refresh", "Refresh &suggestions", self.refresh, "F5")

    # -- play logging -----------------------------------------------------------------
    def logging_paused(self) -> bool:
        return bool(logging_paused(self.db))

    def set_logging_paused(self, paused: bool) -> None:
        set_logging_paused(self.db, bool(paused))
        if "pause" in self.actions:
            self.actions["pause"].setChecked(bool(paused))
        self.status.emit("Play logging paused" if paused else "Play logging resumed")

    def _track_started(self, path: bytes) -> None:
        path = bytes(path)
        self._restart_idle()
        source = self._sources.pop(path, "user")
        tags = getattr(self.host, "track_tags", lambda _key: None)(path)  # streams: tags
        try:
            started = self.playlog.started(path, tags=tags, source=source)
        except Exception as exc:
            self._error("Could not log the play", exc)
        else:
            if started.message and started.message != "Play logging is paused":
                self.status.emit(started.message)
        self.refresh()
        self._maybe_autoplay()

    def _track_ended(self, path: bytes, ms_heard: int, reason: str) -> None:
        self._restart_idle()
        try:
            play_id = self.playlog.ended(bytes(path), ms_heard, reason)
        except Exception as exc:
            self._error("Could not log the play", exc)
            return
        if play_id is None:
            return
        self.play_logged.emit(play_id)
        self._check_retrain()

    def touch(self) -> None:
        """Record how far the play in progress got, for hosts that say (``heard_ms``):
        a crash then keeps the play so far."""
        try:
            self.playlog.touch(self.host.current_track(), getattr(self.host, "heard_ms", None))
        except Exception as exc:
            self._error("Could not log the play", exc)

    def _queue_changed(self) -> None:
        self.refresh()  # a queued track leaves the suggestions
        self._maybe_autoplay()

    # -- suggestions ------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute suggestions in the background; the newest request wins."""
        if self.closing:
            return
        current = self.host.current_track()
        playing = bytes(current) if current is not None else None
        queued = [bytes(p) for p in self.host.queue()]
        after = self._after(current)
        settings = copy.deepcopy(self.prefs)  # plain data for the worker, never shared
        db_path = self.db_path  # the job captures plain data only, never the plugin
        self.runner.run_task(
            lambda: fetch_suggestions(
                db_path, settings.suggestions, after, settings, playing, queued
            ),
            self._got_suggestions,
            on_error=self._suggestions_failed,
            key="suggestions",
        )
        self.suggestions_pending.emit()

    def _suggestions_failed(self, message: str) -> None:
        self.status.emit(f"No suggestions: {message}")
        self.suggestions_changed.emit(self.items)  # the list shown stays, said as before

    def _after(self, current: bytes | None) -> bytes | None:
        """The playing track when its play is not logged (so the service anchors on it)."""
        if current is None or bytes(current) in self._open:
            return None
        return bytes(current)

    def _got_suggestions(self, payload: Fetched) -> None:
        result, items, covers, source, loved = payload
        # the queue may have changed while the worker ran (a refresh follows): until
        # then, never show what is playing or queued now
        taken = {bytes(p) for p in self.host.queue()}
        current = self.host.current_track()
        if current is not None:
            taken.add(bytes(current))
        self.covers = covers
        self.items = [item for item in items if bytes(item.path) not in taken]
        self.method = getattr(result, "method", "")
        self.source_words = source.words
        self.loved = set(loved)
        self.suggestions_changed.emit(self.items)

    def _maybe_autoplay(self) -> None:
        """When the queue runs dry while a track plays, append the best suggestion."""
        if not self.prefs.autoplay or self._autoplay_pending or self.closing:
            return
        current = self.host.current_track()
        if current is None or self.host.queue():
            return
        self._autoplay_pending = True
        after = self._after(current)
        settings = copy.deepcopy(self.prefs)
        db_path, playing = self.db_path, bytes(current)  # plain data for the pool thread
        self.runner.run_task(
            lambda: fetch_suggestions(db_path, 1, after, settings, playing, []),
            self._autoplay_ready,
            on_error=self._autoplay_failed,
            key="autoplay",
        )

    def _autoplay_ready(self, payload: Any) -> None:
        self._autoplay_pending = False
        items = payload.items
        if not items or not self.prefs.autoplay or self.host.queue():
            return
        if self.host.current_track() is None:
            return
        path = bytes(items[0].path)
        self._sources[path] = "autoplay"
        self.host.enqueue(path, next=False)

    def _autoplay_failed(self, message: str) -> None:
        self._autoplay_pending = False
        self.status.emit(f"Auto-play: {message}")

    def set_autoplay(self, enabled: bool) -> None:
        self.prefs.autoplay = bool(enabled)
        self.prefs.save(self.db)
        if "autoplay" in self.actions:
            self.actions["autoplay"].setChecked(bool(enabled))
        self._maybe_autoplay()

    # -- the dock's actions -----------------------------------------------------------
    def _path(self, track_id: int) -> bytes | None:
        return library_view.path_of(self.db, track_id)

    def track_name(self, track_id: int) -> str:
        """ "Artist – Title" of a track, for the messages that name it."""
        for item in self.items:
            if int(item.track_id) == int(track_id):
                break
        else:
            item = library_view.rows_by_id(self.db, [int(track_id)]).get(int(track_id))
            if item is None:
                return f"track {track_id}"
            artist, title = item.get("artist") or "", item.get("title") or "?"
            return f"{artist} – {title}" if artist else title
        return f"{item.artist} – {item.title}" if item.artist else (item.title or "?")

    @property
    def can_queue(self) -> bool:
        """Whether the host takes queued tracks (an MPRIS player without TrackList does not:
        then "play next" opens the track in the player and "add to queue" copies its path)."""
        return bool(getattr(self.host, "can_queue", True))

    def play_next(self, track_id: int) -> None:
        path = self._path(track_id)
        if path is not None and not self.can_queue:
            self.open_in_player(track_id)
        elif path is not None:
            self._sources[path] = "suggestion"
            self.host.enqueue(path, next=True)
            self.status.emit(f"Playing next: {self.track_name(track_id)}")
            self.refresh()

    def add_to_queue(self, track_id: int) -> None:
        path = self._path(track_id)
        if path is not None and not self.can_queue:
            self.copy_path(track_id)
        elif path is not None:
            self._sources[path] = "suggestion"
            self.host.enqueue(path, next=False)
            self.status.emit(f"Added to the queue: {self.track_name(track_id)}")
            self.refresh()

    def open_in_player(self, track_id: int) -> None:
        """Play the track now in the host's player (MPRIS ``OpenUri``), or in the desktop's
        default player for hosts that cannot open files."""
        path = self._path(track_id)
        if path is None:
            return
        opener = getattr(self.host, "open_uri", None)
        if opener is not None:
            self._sources[path] = "suggestion"
            opener(path)
        else:
            QDesktopServices.openUrl(QUrl.fromLocalFile(os.fsdecode(path)))
        self.status.emit(f"Opened in the player: {self.track_name(track_id)}")

    def copy_path(self, track_id: int) -> None:
        """Put the track's file path on the clipboard (to drop it into another player)."""
        path = self._path(track_id)
        if path is not None:
            QGuiApplication.clipboard().setText(os.fsdecode(path))
            self.status.emit(f"Copied the path of {self.track_name(track_id)}")

    def choose_radio_file(self, checked: bool = False) -> None:
        """Ask where to save a radio of suggestions, then save it (see :meth:`save_radio`)."""
        name, _ = QFileDialog.getSaveFileName(
            self.window, "Save radio as playlist", "Segue radio.m3u8", RADIO_FILTER
        )
        if name:
            self.save_radio(name)

    def save_radio(self, path: str, n: int = RADIO_TRACKS) -> None:
        """Walk a radio of *n* tracks from the suggestions (each pick followed as the next
        listen, with the dock's exclusions and variety) and save it at *path* (M3U8, XSPF
        or JSPF by its extension), on a worker thread."""
        db_path, target = self.db_path, os.fspath(path)
        self.runner.run_task(
            functools.partial(_write_radio, db_path, target, n),
            self._radio_saved,
            on_error=self._radio_failed,
            key="playlist",
        )

    def _radio_saved(self, message: str) -> None:
        self.status.emit(message)
        self.radio_saved.emit(message)

    def _radio_failed(self, message: str) -> None:
        self.status.emit(f"Could not save the radio: {message}")
        self.radio_saved.emit("")

    def love(self, track_id: int) -> bool:
        """Mark the track loved (once); True when it is loved afterwards."""
        if int(track_id) in self.loved or int(track_id) in loved_track_ids(self.db):
            self.loved.add(int(track_id))
            return True
        if not self._feedback(track_id, "love", None):
            return False
        self.loved.add(int(track_id))
        self.status.emit(f"Loved {self.track_name(track_id)}")
        return True

    def unlove(self, track_id: int) -> bool:
        """Take the love back; False (not loved) unless that could not be saved."""
        try:
            clear_feedback(self.db, track_id, "love")
        except Exception as exc:
            self._error("Could not save your feedback", exc)
            return True
        self.loved.discard(int(track_id))
        self.status.emit(f"No longer loved: {self.track_name(track_id)}")
        return False

    def toggle_love(self, track_id: int) -> bool:
        """The heart: love, or un-love a loved track; whether it is loved now."""
        if int(track_id) in self.loved or int(track_id) in loved_track_ids(self.db):
            return self.unlove(track_id)
        return self.love(track_id)

    def not_now(self, track_id: int) -> None:
        hours = self.prefs.not_now_hours
        until = self.clock() + hours * 3600 * 1000
        name = self.track_name(track_id)
        if self._feedback(track_id, "not_now", until):
            text = f"Hidden for {hours} hours: {name}"
            self.status.emit(f"{text} (Undo)")
            self.hidden.emit(int(track_id), "not_now", text)

    def never(self, track_id: int) -> None:
        name = self.track_name(track_id)
        if self._feedback(track_id, "never", None):
            text = f"Won't suggest {name} again"
            self.status.emit(f"{text} (Undo)")
            self.hidden.emit(int(track_id), "never", text)

    def undo_feedback(self, track_id: int, kind: FeedbackKind) -> None:
        """Take back a *never* or *not now* (the dock's Undo, the feedback page)."""
        name = self.track_name(track_id)
        try:
            clear_feedback(self.db, track_id, kind)
        except Exception as exc:
            self._error("Could not save your feedback", exc)
            return
        if kind == "love":
            self.loved.discard(int(track_id))
            self.status.emit(f"No longer loved: {name}")
        else:
            self.status.emit(f"{name} can be suggested again")
        self.refresh()

    def _feedback(self, track_id: int, kind: FeedbackKind, until: int | None) -> bool:
        try:
            add_feedback(self.db, track_id, kind, until_ms=until)
        except Exception as exc:
            self._error("Could not save your feedback", exc)
            return False
        if kind != "love":
            self.items = [item for item in self.items if item.track_id != track_id]
            self.suggestions_changed.emit(self.items)
            self.refresh()
        return True

    # -- retraining -------------------------------------------------------------------
    def _restart_idle(self) -> None:
        self._idle.start(max(1, self.prefs.retrain_idle_minutes) * 60 * 1000)

    def new_plays_since_training(self) -> int:
        return autotrain.new_plays(self.db)

    def _check_retrain(self, *, idle: bool = False) -> None:
        if self.training_running or self.closing:
            return
        playing = self.host.current_track() is not None
        reason = autotrain.due(self.db, self.prefs, idle=idle, playing=playing)
        if reason is not None:
            self.retrain(reason=reason)

    def _idle_timeout(self) -> None:
        self._check_retrain(idle=True)

    @property
    def training_running(self) -> bool:
        return self.training is not None and self.training.running

    def retrain(self, checked: bool = False, *, reason: str = "on request") -> bool:
        """Retrain on a worker thread (:mod:`player_plugin.app.retrain`, as ``segue
        train``); False when training is already running."""
        if self.training_running:
            self.status.emit("Already learning from your listening")
            return False
        autotrain.mark_attempt(self.db)
        job = TrainingJob(self.runner, self.db_path, self)
        job.progress.connect(self._training_progress)
        job.finished.connect(self._training_done)
        self.training = job
        job.start()
        self.training_started.emit()
        self.status.emit(f"Learning from your listening ({reason})…")
        return True

    def _training_progress(self, event: TrainingEvent) -> None:
        self.training_progress.emit(event)
        words = learning_words(event)
        if words is not None:
            self.status.emit(f"Learning from your listening: {words}")

    def _training_done(self, result: RetrainResult | None, error: str) -> None:
        self.training_finished.emit(result, error)
        if error == CANCELLED:
            self.status.emit("Stopped learning from your listening; suggestions stay as they were")
        elif error:
            self.status.emit(f"Could not learn from your listening: {error}")
        elif result is not None:
            self.status.emit(result.summary())
        self.refresh()

    # -- dialogs ----------------------------------------------------------------------
    def open_import_wizard(self) -> None:
        # the importer (tag reader, fuzzy matching) is loaded when first asked for, not
        # at every start: about 8 MB of the player's memory
        from player_plugin.ui.wizard import ImportWizard

        wizard = ImportWizard(self.db_path, self.window, runner=self.runner)
        wizard.finished.connect(lambda _: self.imported())
        wizard.show()
        self.wizard = wizard

    def imported(self) -> None:
        self.status.emit("Library updated")
        self.refresh()
        if self.window is not None and hasattr(self.window, "library_changed"):
            self.window.library_changed()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.db, self.prefs, self.window)
        dialog.feedback.changed.connect(self.refresh)  # a track may be suggested again
        if dialog.exec():
            self.apply_prefs(dialog.prefs)
            if "pause" in self.actions:
                self.actions["pause"].setChecked(self.logging_paused())

    def apply_prefs(self, prefs: Prefs) -> None:
        """Save *prefs* and let them take effect now."""
        self.prefs = prefs
        prefs.save(self.db)
        if "autoplay" in self.actions:
            self.actions["autoplay"].setChecked(prefs.autoplay)
        self._restart_idle()
        self.refresh()
        self._check_retrain()

    def open_model_report(self) -> None:
        # QtCharts is loaded when a report is first opened, not at every start
        from player_plugin.ui.model_report import ModelReport

        report = ModelReport(self.db_path, self.window)
        report.rolled_back.connect(self.refresh)
        report.show()
        self.report = report

    # -- shutting down ----------------------------------------------------------------
    def shutdown(self) -> None:
        """Complete any open play, stop training cleanly, wait for workers: loses nothing."""
        self.closing = True
        self._idle.stop()
        self._touch_timer.stop()
        if self.training is not None and self.training_running:
            self.training.cancel()
        self.runner.shutdown()
        self.db.close()

    def _error(self, what: str, exc: BaseException) -> None:
        log.warning("%s", what, exc_info=True)
        self.status.emit(f"{what}: {error_line(exc)}")
