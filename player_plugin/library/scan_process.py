"""A scan in a process of its own, for a GUI: :func:`scan_in_child`.

Run in a thread of the GUI's process, a scan (and its tag-reading pool's three handler
threads) competes with the event loop for the interpreter lock; on a busy two-core machine
that stalled the player's event loop for 100-180 ms at a time (benchmarks/gui_stall.py).
Here the whole scan (walk, tags, writes) runs in a spawned child process with its own
lock; the calling thread only waits on a pipe, so the GUI keeps its lock. Plain data
crosses: progress, the :class:`ScanSummary`, or the error's text. The child opens its own
connection to the store; the result in the store is the one :func:`scan` would write.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable
from typing import Any

from player_plugin.domain.paths import PathLike, to_bytes
from player_plugin.library.scanner import ProgressCallback, ScanError, ScanSummary, scan
from player_plugin.store.db import open_db

POLL_S = 0.05  # how often the waiting thread looks at *cancel*
CANCEL_GRACE_S = 1.0  # a cancelled child commits its batch and ends, or is terminated


def _child(
    db_path: str, roots: list[bytes], conn: Any, stop: Any, workers: int | None
) -> None:  # pragma: no cover - runs in the child process (its effects are tested)
    """The child's side: scan, send ``("progress", p)`` messages, then ``("done",
    summary)`` or ``("error", type name, text)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches all
    try:
        db = open_db(db_path)
        try:
            summary = scan(
                db,
                roots,
                progress=lambda p: conn.send(("progress", p)),
                cancel=stop,
                workers=workers,
            )
        finally:
            db.close()
        conn.send(("done", summary))
    except Exception as exc:  # to the parent as text: any exception, pickled or not
        conn.send(("error", type(exc).__name__, str(exc)))
    finally:
        conn.close()


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

    A cancelled child that has not ended within :data:`CANCEL_GRACE_S` (one still starting
    up, on a busy machine) is terminated, so a player quits promptly; every batch it
    committed stays (each is one transaction), and the summary says only ``cancelled``."""
    context = multiprocessing.get_context("spawn")  # never fork a process running Qt
    receive, send = context.Pipe(duplex=False)
    stop = context.Event()
    child = context.Process(
        target=_child,
        args=(os.fspath(db_path), [to_bytes(root) for root in roots], send, stop, workers),
        name="segue-scan",
    )
    child.start()
    send.close()  # the child holds the only writing end: its exit ends the pipe
    cancelled_at: float | None = None
    try:
        while True:
            if cancel is not None and cancel.is_set() and cancelled_at is None:
                stop.set()
                cancelled_at = time.monotonic()
            if not receive.poll(POLL_S):
                if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                    return ScanSummary(cancelled=True)  # the child is terminated below
                continue
            try:
                message = receive.recv()
            except EOFError:
                child.join()
                raise ScanProcessError(
                    f"the scan process ended without a result (exit status {child.exitcode})"
                ) from None
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1])
            elif message[0] == "done":
                return message[1]
            else:
                raise ScanProcessError(message[2] or message[1])
    finally:
        stop.set()
        child.join(0 if cancelled_at is not None else CANCEL_GRACE_S)
        if child.is_alive():
            child.terminate()
            child.join()
        receive.close()
