"""The import workflow without Qt: folders → scan → listening history → first model.

Its decisions are methods (beets ``importer/session.py`` ``choose_match`` style):
``choose_folders``, ``choose_history_files`` and ``choose_train``. The wizard answers them
from its pages, a script or test by subclassing; :meth:`ImportSession.run` drives the
whole flow, and the wizard calls the same steps one by one from its worker threads. Every
step opens its own store connection, so it can run on any thread.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from player_plugin.store.db import open_db

log = logging.getLogger(__name__)

MIN_PLAYS_TO_TRAIN = 500  # listened plays before a first model (model_eval.MIN_LISTENS)
FOLDERS_KEY = "library.folders"


CLI_ENTRY = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"


def train_args(db_path: str | os.PathLike) -> list[str]:
    """``segue train --json`` as a Python command line (after the interpreter): it trains in
    a further subprocess (``python -m training``), promotes only a better model, streams
    progress on stderr and prints one JSON result on stdout."""
    return ["-c", CLI_ENTRY, "--db", str(db_path), "train", "--json"]


def parse_progress(line: bytes | str) -> dict | None:
    """One JSON progress object from a trainer output line, or None for other text."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


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
            return f"{self.listened} listened plays: enough to train a first model."
        return (
            f"{self.listened} listened plays so far; a model needs about {self.needed}. "
            "Until then suggestions come from the baselines (what you play together, "
            "similar-sounding tracks, favourites), and Segue trains one by itself later."
        )


@dataclass
class SessionResult:
    folders: list[bytes] = field(default_factory=list)
    scan: Any = None  # ScanSummary
    history: list[Any] = field(default_factory=list)  # ImportReport per file
    readiness: Readiness | None = None
    training: dict | None = None
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

    def train_progress(self, event: dict) -> None:
        """Called with each JSON progress line of the trainer."""

    # -- steps ----------------------------------------------------------------------------
    def saved_folders(self) -> list[bytes]:
        from player_plugin.store.settings import get_setting

        db = open_db(self.db_path)
        try:
            value = get_setting(db, FOLDERS_KEY, []) or []
        finally:
            db.close()
        return [os.fsencode(v) for v in value if isinstance(v, str)]

    def save_folders(self, folders: Sequence[bytes]) -> None:
        from player_plugin.store.settings import set_setting

        db = open_db(self.db_path)
        try:
            set_setting(db, FOLDERS_KEY, [os.fsdecode(f) for f in folders])
        finally:
            db.close()

    def scan(self, folders: Sequence[bytes], progress: Callable[[Any], None] | None = None) -> Any:
        """Scan *folders* into the store (incremental); remembers them as library folders."""
        from player_plugin.library.scanner import scan

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
        from player_plugin.library.history.importer import import_files

        db = open_db(self.db_path)
        try:
            return import_files(db, [os.fspath(f) for f in files], fmt="auto")
        finally:
            db.close()

    def readiness(self) -> Readiness:
        from player_plugin.store.library_view import play_counts

        db = open_db(self.db_path)
        try:
            matched, listened = play_counts(db)
        finally:
            db.close()
        try:
            from player_plugin.recommend.model_eval import MIN_LISTENS as needed
        except ImportError:
            needed = MIN_PLAYS_TO_TRAIN
        return Readiness(plays=matched, listened=listened, needed=needed)

    def train(self) -> dict:
        """Run the trainer as a subprocess, streaming its progress; its JSON result.

        Raises ``RuntimeError`` with the trainer's last message when it fails; a cancel
        (``cancel_event``) terminates it, and the trainer leaves no half-written model.
        """
        proc = subprocess.Popen(
            [sys.executable, *train_args(self.db_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        errors: list[str] = []

        def read_stderr() -> None:
            for raw in proc.stderr:
                event = parse_progress(raw)
                if event is not None:
                    self.train_progress(event)
                elif raw.strip():
                    errors.append(raw.decode("utf-8", "replace").strip())

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()

        def watch() -> None:
            while proc.poll() is None:
                if self.cancel_event.wait(0.2):
                    proc.send_signal(signal.SIGINT)  # it stops its own trainer cleanly
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.terminate()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        result: dict | None = None
        for raw in proc.stdout:
            event = parse_progress(raw)
            if event is None:
                continue
            if "model_id" in event:
                result = event
            else:
                self.train_progress(event)
        code = proc.wait()
        reader.join(timeout=5)
        if self.cancel_event.is_set():
            raise RuntimeError("training cancelled")
        if code != 0:
            raise RuntimeError(errors[-1] if errors else f"training failed (exit status {code})")
        return result or {}

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
            except RuntimeError as exc:
                result.training_error = str(exc)
        result.cancelled = self.cancel_event.is_set()
        return result
