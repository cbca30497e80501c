"""The audio analysis in a process of its own, for a GUI: :func:`analyse_in_child`.

The analysis decodes in a pool of worker processes, but its bookkeeping (the list of
tracks to analyse, a future per track, the results' writes) is Python that, in a thread
of the GUI's process, held the interpreter lock the event loop needs (stalls of 60-110 ms
right after a scan; benchmarks/gui_stall.py). Here the whole job runs in a spawned child
(:mod:`~player_plugin.library.child_process`), which starts the worker pool itself; plain
data crosses: each :class:`AnalyzeProgress`, the :class:`AnalyzeSummary`, or the error's
text. What the child stores is what :func:`analyse_library` stores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from player_plugin.domain.errors import SegueError
from player_plugin.library.analyze_job import AnalyzeProgress, AnalyzeSummary, analyse_library
from player_plugin.library.child_process import run_in_child
from player_plugin.store.db import open_db

__all__ = ["AnalysisProcessError", "analyse_in_child"]


class AnalysisProcessError(SegueError):
    """The analysis in the child process failed; the message is the child's error's text."""


def _analyse_job(
    db_path: str, workers: int | None, *, progress: Any, cancel: Any
) -> AnalyzeSummary:  # pragma: no cover - runs in the child process (its effects are tested)
    db = open_db(db_path)
    try:
        return analyse_library(db, workers=workers, progress=progress, cancel=cancel)
    finally:
        db.close()


def analyse_in_child(
    db_path: str | os.PathLike,
    *,
    progress: Callable[[AnalyzeProgress], None] | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> AnalyzeSummary:
    """:func:`~player_plugin.library.analyze_job.analyse_library` of the store at
    *db_path* in a spawned child process; the calling thread waits, calls *progress* with
    each :class:`AnalyzeProgress`, and passes *cancel* on (every batch committed stays).
    An error in the child raises :class:`AnalysisProcessError` with its text."""
    return run_in_child(
        _analyse_job,
        (os.fspath(db_path), workers),
        name="segue-analysis",
        progress=progress,
        cancel=cancel,
        abandoned=_abandoned,
        error=AnalysisProcessError,
    )


def _abandoned() -> AnalyzeSummary:
    return AnalyzeSummary(analysed=0, skipped=0, failed=0, seconds=0.0, cancelled=True)
