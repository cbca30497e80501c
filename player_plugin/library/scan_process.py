"""A scan in a process of its own, for a GUI: :func:`scan_in_child`.

Run in a thread of the GUI's process, a scan (and its tag-reading pool's three handler
threads) competes with the event loop for the interpreter lock; on a busy two-core machine
that stalled the player's event loop for 100-180 ms at a time (benchmarks/gui_stall.py).
Here the whole scan (walk, tags, writes) runs in a spawned child process
(:mod:`~player_plugin.library.child_process`); plain data crosses: progress, the
:class:`ScanSummary`, or the error's text. The child opens its own connection to the store;
the result in the store is the one :func:`scan` would write.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from player_plugin.domain.paths import PathLike, to_bytes
from player_plugin.library.child_process import CANCEL_GRACE_S, run_in_child
from player_plugin.library.scanner import ProgressCallback, ScanError, ScanSummary, scan
from player_plugin.store.db import open_db

__all__ = ["CANCEL_GRACE_S", "ScanProcessError", "scan_in_child"]


def _scan_job(
    db_path: str, roots: list[bytes], workers: int | None, *, progress: Any, cancel: Any
) -> ScanSummary:  # pragma: no cover - runs in the child process (its effects are tested)
    db = open_db(db_path)
    try:
        return scan(db, roots, progress=progress, cancel=cancel, workers=workers)
    finally:
        db.close()


class ScanProcessError(ScanError):
    """The scan in the child process failed; the message is the child's error's text."""


def scan_in_child(
    db_path: str | os.PathLike,
    roots: Iterable[PathLike],
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> ScanSummary:
    """:func:`~player_plugin.library.scanner.scan` of *roots* into the store at *db_path*,
    run in a spawned child process; the calling thread waits, calls *progress* with each
    :class:`ScanProgress`, and passes *cancel* on (the child keeps what it committed).
    An error in the child raises :class:`ScanProcessError` with its text.

    A cancelled child that has not ended within :data:`CANCEL_GRACE_S` is terminated;
    every batch it committed stays (each is one transaction), and the summary says only
    ``cancelled``."""
    return run_in_child(
        _scan_job,
        (os.fspath(db_path), [to_bytes(root) for root in roots], workers),
        name="segue-scan",
        progress=progress,
        cancel=cancel,
        abandoned=_abandoned_scan,
        error=ScanProcessError,
    )


def _abandoned_scan() -> ScanSummary:
    return ScanSummary(cancelled=True)
