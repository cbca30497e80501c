"""The import wizard: music folders → scan → listening history → first model → done.

Every step is a method of the Qt-free :class:`~player_plugin.app.importing.ImportSession`
(the CLI and the tests drive the same code); the pages only answer its decisions and run
its steps on the thread pool (training too: :mod:`player_plugin.app.retrain`, as ``segue
train``), with progress and cancel.
"""

from __future__ import annotations

import functools
import os
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from player_plugin.app.importing import ImportSession, Readiness
from player_plugin.app.retrain import RetrainResult
from player_plugin.domain.training_events import Epoch, TrainingEvent
from player_plugin.domain.words import count
from player_plugin.store.db import open_db
from player_plugin.store.models import active_model
from player_plugin.store.stats import counts
from player_plugin.ui.icons import icon
from player_plugin.ui.workers import TaskRunner, TrainingJob, learning_words


class WizardSession(ImportSession):
    """The session whose decisions are the wizard's pages."""

    def __init__(self, db_path: str, wizard: ImportWizard) -> None:
        super().__init__(db_path)
        self.wizard = wizard

    def choose_folders(self, current: list[bytes]) -> list[bytes]:
        return self.wizard.folders_page.folders()

    def choose_history_files(self) -> list[str]:
        return list(self.wizard.history_page.files)

    def choose_train(self, readiness: Readiness) -> bool:
        return readiness.enough


class FoldersPage(QWizardPage):
    def __init__(self, session: ImportSession) -> None:
        super().__init__()
        self.setTitle("Choose your music folders")
        self.setSubTitle(
            "Segue reads the tags of the files in these folders and watches them for changes. "
            "Nothing is moved or modified."
        )
        self.list = QListWidget()
        self.list.setObjectName("folders")
        add = QPushButton("Add folder…")
        add.setObjectName("add-folder")
        add.clicked.connect(self._browse)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.addWidget(self.list, 1)
        row.addLayout(buttons)
        for folder in session.saved_folders():
            self.add_folder(folder)
        if self.list.count() == 0:
            music = os.path.expanduser("~/Music")
            if os.path.isdir(music):
                self.add_folder(music)

    def add_folder(self, path: str | bytes) -> None:
        folder = os.path.abspath(os.fsencode(path))  # bytes: a name need not be UTF-8
        if folder not in self.folders():
            item = QListWidgetItem(folder.decode("utf-8", errors="replace"))
            item.setData(Qt.ItemDataRole.UserRole, folder)
            self.list.addItem(item)
            self.completeChanged.emit()

    def folders(self) -> list[bytes]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [bytes(item.data(Qt.ItemDataRole.UserRole)) for item in items]

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Music folder", os.path.expanduser("~"))
        if path:
            self.add_folder(path)

    def _remove(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.list.count() > 0


class ScanPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Scanning your library")
        self.setSubTitle("Reading tags in the background; you can cancel at any time.")
        self.bar = QProgressBar()
        self.label = QLabel("Starting…")
        self.label.setWordWrap(True)
        self.cancel = QPushButton("Cancel scan")
        self.cancel.setObjectName("cancel-scan")
        self.cancel.clicked.connect(self._cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.summary = None
        self.running = False
        self.error = ""

    def initializePage(self) -> None:
        session = self.wizard_.session
        session.cancel_event.clear()
        folders = session.choose_folders(session.saved_folders())
        self.summary, self.error, self.running = None, "", True
        self.bar.setRange(0, 0)
        self.cancel.setEnabled(True)
        self.label.setText("Looking for music files…")
        db_path, cancel = session.db_path, session.cancel_event  # plain data for the pool

        def scan(report):
            worker = ImportSession(db_path)  # the wizard's session holds the wizard
            worker.cancel_event = cancel
            return worker.scan(folders, progress=lambda p: report(p.done, p.total, str(p.current)))

        self.wizard_.runner.run_task(
            scan,
            self._done,
            on_error=self._failed,
            on_progress=self._show_progress,
            key="wizard-scan",
        )
        self.completeChanged.emit()

    def _show_progress(self, done: int, total: int, current: str) -> None:
        if not self.running:
            return
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            self.label.setText(f"{done:,} of {count(total, 'file')} read")
        else:
            self.label.setText(f"Looking for music files… {done:,} found")

    def _done(self, summary) -> None:
        self.running = False
        self.summary = summary
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.cancel.setEnabled(False)
        head = "Scan cancelled; everything read so far is kept." if summary.cancelled else "Done."
        self.label.setText(
            f"{head} {summary.added:,} added, {summary.updated:,} updated, "
            f"{summary.moved:,} moved, {summary.removed:,} gone, {summary.unchanged:,} unchanged, "
            f"{summary.errors:,} could not be read."
        )
        self.completeChanged.emit()

    def _failed(self, message: str) -> None:
        self.running = False
        self.error = message
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.cancel.setEnabled(False)
        self.label.setText(f"The scan failed: {message}")
        self.completeChanged.emit()

    def _cancel(self) -> None:
        self.wizard_.session.cancel_event.set()
        self.label.setText("Cancelling…")
        self.cancel.setEnabled(False)

    def isComplete(self) -> bool:
        return not self.running


class HistoryPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Listening history (optional)")
        self.setSubTitle(
            "Add exports from ListenBrainz, Last.fm, Spotify or a Rockbox .scrobbler.log: the "
            "format is detected. Plays are matched to your files; the rest are kept for later."
        )
        self.files: list[str] = []
        self.list = QListWidget()
        self.list.setObjectName("history")
        self.list.setWordWrap(True)  # a result line wraps, never clips (and is its tooltip)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        add = QPushButton("Add history files…")
        add.setObjectName("add-history")
        add.clicked.connect(self._browse)
        # an unpacked export (Spotify's my_spotify_data): the histories inside, at any depth
        add_folder = QPushButton("Add an export folder…")
        add_folder.setObjectName("add-history-folder")
        add_folder.clicked.connect(self._browse_folder)
        self.label = QLabel("No history added: Segue learns from your plays from now on.")
        self.label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(add_folder)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.label)
        self.running = 0
        self.reports: list = []

    def _browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Listening history",
            os.path.expanduser("~"),
            "Listening history (*.json *.jsonl *.csv *.tsv *.log *.txt);;All files (*)",
        )
        if paths:
            self.add_files(paths)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Unpacked listening-history export", os.path.expanduser("~")
        )
        if folder:
            self.add_files([folder])

    def add_files(self, paths: list[str]) -> None:
        """Import *paths* now (in the background); results appear in the list."""
        db_path = self.wizard_.session.db_path  # plain data for the pool thread
        for path in paths:
            self.files.append(path)
            self.running += 1
            self.list.addItem(f"{os.path.basename(path)}: importing…")
            row = self.list.count() - 1
            self.wizard_.runner.run_task(
                lambda p=path: ImportSession(db_path).import_history([p]),
                functools.partial(self._imported, row, path),
                on_error=functools.partial(self._failed, row, path),
            )
        self.completeChanged.emit()

    def _imported(self, row: int, path: str, report) -> None:
        self.running -= 1
        self.reports.append(report)
        read = getattr(report, "read", 0)
        matched = getattr(report, "matched", 0)
        share = f" ({matched / read:.0%})" if read else ""
        extra = []
        for name in ("duplicates", "malformed", "unmatched"):
            value = getattr(report, name, 0)
            if value:
                extra.append(f"{value:,} {name}")
        fmt = getattr(report, "format", "")
        text = (
            f"{os.path.basename(path)}{f' [{fmt}]' if fmt else ''}: {count(read, 'play')} read, "
            f"{matched:,} matched your files{share}" + (f"; {', '.join(extra)}" if extra else "")
        )
        self._show(row, text)
        total = sum(getattr(r, "matched", 0) for r in self.reports)
        self.label.setText(f"{count(total, 'play')} matched so far.")
        self.completeChanged.emit()

    def _failed(self, row: int, path: str, message: str) -> None:
        self.running -= 1
        self._show(row, f"{os.path.basename(path)}: not imported — {message}")
        self.completeChanged.emit()

    def _show(self, row: int, text: str) -> None:
        item = self.list.item(row)
        item.setText(text)
        item.setToolTip(text)

    def isComplete(self) -> bool:
        return self.running == 0


class TrainPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Your first model")
        self.setSubTitle(
            "A small model learns your taste from your own plays, on this machine; it serves "
            "only if it beats the simple methods on your newest plays."
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.cancel = QPushButton("Cancel training")
        self.cancel.setObjectName("cancel-training")
        self.cancel.clicked.connect(self._cancel)
        self.train_again = QPushButton("Retrain now")
        self.train_again.setObjectName("train-again")
        self.train_again.clicked.connect(self._start)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.cancel, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.train_again, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.job: TrainingJob | None = None
        self.result: RetrainResult | None = None
        self.error = ""
        self.readiness: Readiness | None = None

    def initializePage(self) -> None:
        """Train the first model when the history allows; when a model already serves,
        or this wizard trained one already, say so and train only on request."""
        session = self.wizard_.session
        self.readiness = readiness = session.readiness()
        self.train_again.hide()
        if self.job is not None and self.job.running:
            return
        if self.result is not None:  # trained on an earlier visit: shown, not redone
            self.train_again.show()
            self.completeChanged.emit()
            return
        self.error = ""
        serving = self.serving_model()
        if serving is not None:
            self.setTitle("Your model")
            self.label.setText(serving)
            self.bar.hide()
            self.cancel.hide()
            self.status.setText(
                "Segue retrains it by itself as you play. Retrain now if you added a lot "
                "of listening history."
            )
            self.train_again.show()
            self.completeChanged.emit()
            return
        self.setTitle("Your first model")
        self.label.setText(readiness.explain())
        if not session.choose_train(readiness):
            self.bar.hide()
            self.cancel.hide()
            self.status.setText("You can train later from the Segue menu (Retrain now).")
            self.completeChanged.emit()
            return
        self._start()

    def serving_model(self) -> str | None:
        """One line about the model serving now, or None when none does."""
        db = open_db(self.wizard_.session.db_path)
        try:
            row = active_model(db)
        finally:
            db.close()
        if row is None:
            return None
        when = time.strftime("%d %b %Y", time.localtime((row["created_at"] or 0) / 1000))
        plays = f" on {count(row['data_size'], 'play')}" if row.get("data_size") else ""
        return f"A model trained{plays} on {when} is choosing your suggestions."

    def _start(self) -> None:
        session = self.wizard_.session
        self.result, self.error = None, ""
        self.train_again.hide()
        self.bar.show()
        self.cancel.show()
        self.cancel.setEnabled(True)
        self.bar.setRange(0, 0)
        self.status.setText("Learning from your listening…")
        self.job = TrainingJob(self.wizard_.runner, session.db_path, self)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        self.job.start()
        self.completeChanged.emit()

    def _progress(self, event: TrainingEvent) -> None:
        if isinstance(event, Epoch):
            self.bar.setRange(0, event.epochs)
            self.bar.setValue(event.epoch)
        words = learning_words(event)
        if words is not None:
            self.status.setText(f"Learning from your listening: {words}")

    def _finished(self, result: RetrainResult | None, error: str) -> None:
        self.result, self.error = result, error
        self.cancel.setEnabled(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if result is not None else 0)
        if error:
            self.status.setText(
                f"{error}. Suggestions come from your listening patterns until a model is trained."
            )
        elif result is not None:
            self.status.setText(result.summary())
        self.train_again.setVisible(result is not None or bool(error))
        self.completeChanged.emit()

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def isComplete(self) -> bool:
        return self.job is None or not self.job.running

    def cleanupPage(self) -> None:
        self._cancel()


class DonePage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wizard_ = wizard
        self.setTitle("Ready")
        self.setSubTitle("Segue is set up.")
        self.label = QLabel()
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addStretch(1)

    def initializePage(self) -> None:
        db = open_db(self.wizard_.session.db_path)
        try:
            c = counts(db)
        finally:
            db.close()
        waiting = (
            f" ({c['unmatched_plays']:,} history plays wait for a matching file)"
            if c["unmatched_plays"]
            else ""
        )
        model = (
            "A model trained on your plays is serving."
            if c["models"]
            and self.wizard_.train_page.result
            and self.wizard_.train_page.result.promoted
            else "Suggestions come from your listening patterns until a model does better."
        )
        self.label.setText(
            f"Your library holds {count(c['tracks'], 'track')} and "
            f"{count(c['plays'], 'play')}{waiting}. "
            f"{model}\n\n"
            "Play something: the Up next panel suggests what to play after it, and says why. "
            "Segue keeps learning from what you play and skip; the Segue menu has the model "
            "report, settings and this wizard."
        )


class ImportWizard(QWizard):
    """Choose folders → scan → history → first model → done."""

    def __init__(self, db_path: str, parent: QWidget | None = None, *, runner=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import your music — Segue")
        self.setWindowIcon(icon("segue"))
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setMinimumSize(640, 440)
        self.runner = runner or TaskRunner(self)
        self.session = WizardSession(db_path, self)
        self.folders_page = FoldersPage(self.session)
        self.scan_page = ScanPage(self)
        self.history_page = HistoryPage(self)
        self.train_page = TrainPage(self)
        self.done_page = DonePage(self)
        for page in (
            self.folders_page,
            self.scan_page,
            self.history_page,
            self.train_page,
            self.done_page,
        ):
            self.addPage(page)

    def reject(self) -> None:
        """Closing mid-scan or mid-training cancels cleanly; what is stored stays."""
        self.session.cancel_event.set()
        self.train_page._cancel()
        super().reject()
