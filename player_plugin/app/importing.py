"""The import workflow without Qt: folders → scan → listening history → first model.

Its decisions are methods (beets ``importer/session.py`` ``choose_match`` style):
``choose_folders``, ``choose_history_files`` and ``choose_train``. The wizard answers them
from its pages, a script or test by subclassing; :meth:`ImportSession.run` drives the
whole flow, and the wizard calls the same steps one by one from its worker threads. Every
step opens its own store connection, so it can run on any thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from player_plugin.app.retrain import RetrainResult, TrainingError, retrain
from player_plugin.domain.training_events import TrainingEvent
from player_plugin.domain.words import count
from player_plugin.library.history.importer import import_files
from player_plugin.library.scanner import scan
from player_plugin.recommend.model_eval import MIN_LISTENS
from player_plugin.store.db import open_db
from player_plugin.store.folders import library_folders, set_library_folders
from player_plugin.store.library_view import play_counts
from player_plugin.store.settings import FOLDERS_KEY as FOLDERS_KEY  # (re-exported)

log = logging.getLogger(__name__)

MIN_PLAYS_TO_TRAIN = MIN_LISTENS  # listened plays before a first model


@dataclass(frozen=True)
class Readiness:
    """Whether there is enough history for a first model."""

    plays: int  # matched plays in the store
    listened: int  # of which listened (the trainer's targets)
    needed: int = MIN_PLAYS_TO_TRAIN

    @property
    def enough(self) -> bool:
        return self.listened >= self.needed

    def explain(self) -> str:
        if self.enough:
            return f"{count(self.listened, 'listened play')}: enough to train a first model."
        return (
            f"{count(self.listened, 'listened play')} so far; a model needs about {self.needed}. "
            "Until then suggestions come from your listening patterns (what you play together, "
            "similar-sounding tracks, favourites), and Segue trains one by itself later."
        )


@dataclass
class SessionResult:
    folders: list[bytes] = field(default_factory=list)
    scan: Any = None  # ScanSummary
    history: list[Any] = field(default_factory=list)  # ImportReport per file
    readiness: Readiness | None = None
    training: RetrainResult | None = None
    training_error: str = ""
    cancelled: bool = False


class ImportSession:
    """One run of the import workflow over the store at *db_path*."""

    def __init__(self, db_path: str | os.PathLike) -> None:
        self.db_path = str(db_path)
        self.cancel_event = threading.Event()

    # -- decisions: override these ------------------------------------------------------
    def choose_folders(self, current: list[bytes]) -> list[bytes]:
        """Which music folders to scan (given the ones chosen before)."""
        return current

    def choose_history_files(self) -> list[str]:
        """Which listening-history files to import (any supported format); none by default."""
        return []

    def choose_train(self, readiness: Readiness) -> bool:
        """Whether to train the first model now."""
        return readiness.enough

    # -- progress hooks -----------------------------------------------------------------
    def scan_progress(self, progress: Any) -> None:
        """Called from the scan with ``ScanProgress(done, total, current)``."""

    def train_progress(self, event: TrainingEvent) -> None:
        """Called with each progress event of the trainer (on the training thread)."""

    # -- steps ----------------------------------------------------------------------------
    def saved_folders(self) -> list[bytes]:
        db = open_db(self.db_path)
        try:
            return library_folders(db)
        finally:
            db.close()

    def save_folders(self, folders: Sequence[bytes]) -> None:
        db = open_db(self.db_path)
        try:
            set_library_folders(db, [os.fsencode(f) for f in folders])
        finally:
            db.close()

    def scan(self, folders: Sequence[bytes], progress: Callable[[Any], None] | None = None) -> Any:
        """Scan *folders* into the store (incremental); remembers them as library folders."""
        folders = [os.fsencode(f) for f in folders]
        missing = [f for f in folders if not os.path.isdir(f)]
        if missing:
            raise FileNotFoundError(f"not a folder: {os.fsdecode(missing[0])}")
        self.save_folders(folders)
        db = open_db(self.db_path)
        try:
            return scan(
                db, folders, progress=progress or self.scan_progress, cancel=self.cancel_event
            )
        finally:
            db.close()

    def import_history(self, files: Sequence[str | os.PathLike]) -> Any:
        """Import listening-history files (format detected per file); the import report."""
        db = open_db(self.db_path)
        try:
            return import_files(db, [os.fspath(f) for f in files], fmt="auto")
        finally:
            db.close()

    def readiness(self) -> Readiness:
        db = open_db(self.db_path)
        try:
            matched, listened = play_counts(db)
        finally:
            db.close()
        return Readiness(plays=matched, listened=listened, needed=MIN_PLAYS_TO_TRAIN)

    def train(self) -> RetrainResult:
        """Retrain and promote (:func:`player_plugin.app.retrain.retrain`, as ``segue
        train``), passing progress to :meth:`train_progress`. Raises
        :class:`~player_plugin.app.retrain.TrainingError` with the cause when it fails;
        ``cancel_event`` stops it, and the trainer leaves no half-written model."""
        return retrain(self.db_path, on_event=self.train_progress, cancel=self.cancel_event)

    def run(self) -> SessionResult:
        """The whole workflow, asking the decision methods at each step."""
        result = SessionResult()
        result.folders = self.choose_folders(self.saved_folders())
        if result.folders:
            result.scan = self.scan(result.folders)
        if self.cancel_event.is_set():
            result.cancelled = True
            return result
        files = self.choose_history_files()
        if files:
            result.history.append(self.import_history(files))
        result.readiness = self.readiness()
        if self.choose_train(result.readiness):
            try:
                result.training = self.train()
            except TrainingError as exc:
                result.training_error = str(exc)
        result.cancelled = self.cancel_event.is_set()
        return result
