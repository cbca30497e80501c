"""Long library work in a process of its own, for a GUI: :func:`run_in_child`.

Run in a thread of the GUI's process, Python-heavy work (a scan, the audio analysis's
bookkeeping) competes with the event loop for the interpreter lock: every call the GUI
thread makes into Python (a table cell, a slot) waits for it, and on a busy two-core
machine that stalled the player's event loop for 100-180 ms at a time
(benchmarks/gui_stall.py). Here the job runs in a spawned child process with its own lock;
the calling thread only waits on a pipe, so the GUI keeps its lock. Plain data crosses:
progress values, the job's result, or the error's text.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from player_plugin.domain.errors import SegueError

POLL_S = 0.05  # how often the waiting thread looks at *cancel*
CANCEL_GRACE_S = 1.0  # a cancelled child commits its batch and ends, or is terminated
# the child (and the worker processes it starts, which inherit it) yields the processor to
# the GUI: on two busy cores, a scan at the GUI's own priority took the event loop's turn
NICENESS = 10

T = TypeVar("T")
log = logging.getLogger(__name__)
# a child ended by one of these was stopped from outside (it takes SIGTERM as a cancel,
# yet a second one, or one before it set its handler, ends it): not a failure
_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGHUP, signal.SIGINT})


def _child(
    job: Callable[..., Any], args: tuple, conn: Any, stop: Any
) -> None:  # pragma: no cover - runs in the child process (its effects are tested)
    """The child's side: run ``job(*args, progress=..., cancel=stop)``, sending
    ``("progress", value)`` messages, then ``("done", result)`` or ``("error", type
    name, text)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches all

    def stop_on_term(_signum: int, _frame: object) -> None:
        # a SIGTERM from outside (a logout, a service manager, `kill` of the process
        # group) stops the job as a cancel does: its batch committed, its worker pool
        # shut down (its semaphores released, none reported as leaked); a second ends us.
        # Set from a thread: the event's lock may be held by the code this interrupted.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        threading.Thread(target=stop.set, name="stop-on-term", daemon=True).start()

    signal.signal(signal.SIGTERM, stop_on_term)
    try:
        if hasattr(os, "nice"):
            os.nice(NICENESS)
        result = job(*args, progress=lambda p: conn.send(("progress", p)), cancel=stop)
        # a stopped worker pool leaves reference cycles that hold its queues' semaphores;
        # the process ends without a collection, so they were reported as leaked
        gc.collect()
        conn.send(("done", result))
    except Exception as exc:  # to the parent as text: any exception, pickled or not
        conn.send(("error", type(exc).__name__, str(exc)))
    finally:
        conn.close()


def run_in_child(
    job: Callable[..., T],
    args: tuple,
    *,
    name: str,
    progress: Callable[[Any], None] | None,
    cancel: threading.Event | None,
    abandoned: Callable[[], T],
    error: type[SegueError],
) -> T:
    """``job(*args, progress=..., cancel=...)`` in a spawned child process (*job* a
    module-level function, *args* plain data); the calling thread waits, calls *progress*
    with each value the child reports, and passes *cancel* on.

    A cancelled child that has not ended within :data:`CANCEL_GRACE_S` (one still starting
    up, on a busy machine) is killed, so a player quits promptly, and ``abandoned()`` is
    returned; so is ``abandoned()`` when the child was stopped from outside (SIGTERM,
    SIGHUP, SIGINT: a session ending sends them to the whole process group; the child
    takes its first SIGTERM as a cancel). An error in the child raises *error* with its
    text."""
    context = multiprocessing.get_context("spawn")  # never fork a process running Qt
    receive, send = context.Pipe(duplex=False)
    stop = context.Event()
    child = context.Process(target=_child, args=(job, args, send, stop), name=name)
    child.start()
    send.close()  # the child holds the only writing end: its exit ends the pipe
    cancelled_at: float | None = None
    answered = False
    try:
        while True:
            if cancel is not None and cancel.is_set() and cancelled_at is None:
                stop.set()
                cancelled_at = time.monotonic()
            if not receive.poll(POLL_S):
                if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                    return abandoned()  # the child is terminated below
                continue
            try:
                message = receive.recv()
            except EOFError:
                child.join()
                if child.exitcode is not None and -child.exitcode in _STOP_SIGNALS:
                    # stopped from outside, not failed (the session ending, say): as if
                    # cancelled
                    log.info("the %s process was stopped (exit status %s)", name, child.exitcode)
                    return abandoned()
                raise error(
                    f"the {name} process ended without a result (exit status {child.exitcode})"
                ) from None
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1])
            elif message[0] == "done":
                answered = True
                return message[1]
            else:
                answered = True
                raise error(message[2] or message[1])
    finally:
        stop.set()
        # a child that answered is ending: let it finish (it releases its pool's
        # semaphores on the way out; terminated there, they were reported as leaked);
        # one abandoned after a cancel is stopped now
        child.join(CANCEL_GRACE_S if answered or cancelled_at is None else 0)
        if child.is_alive():
            child.kill()  # at once, whatever it is doing (it takes a SIGTERM as a cancel)
            child.join()
        receive.close()
