"""Background work for the GUI: a thread pool whose results come back to the GUI thread
(Picard ``picard/util/thread.py``), and *Retrain now* run on it (:class:`TrainingJob`).

``TaskRunner.run_task(fn, on_done)`` runs *fn* on a pool thread; *on_done(result)* (or
*on_error(message)*) runs later on the GUI thread. Tasks started under the same *key* make
earlier ones stale: their results are dropped, so a slow answer never overwrites a newer
one. With *on_progress*, *fn* gets a ``report(*values)`` callable; the newest values reach
*on_progress* on the GUI thread. A task that needs the store opens its own connection (one
connection per thread).

Qt objects never cross threads. The pool is Python's own (``concurrent.futures``), so a
pool thread touches no Qt object at all: it runs *fn* and puts plain data (a token, the
result or one error line, progress values) in a queue that a timer on the GUI thread
drains while tasks are running. The GUI thread keeps its own reference to *fn* until the
task's result is handled there, and the pool thread lets go of *fn* before it posts the
result, so whatever *fn* holds (even by mistake, a Qt object) is released on the GUI
thread. Python's garbage collector is left alone: nothing here changes process-wide state.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from player_plugin.app.retrain import RetrainResult, TrainingCancelled, retrain
from player_plugin.domain.training_events import Data, Epoch, Stage, Start, TrainingEvent
from player_plugin.domain.words import count

log = logging.getLogger(__name__)

DRAIN_MS = 10  # how often the GUI thread picks up results while tasks are running
# one pass hands over results until this much time is spent; the rest wait for the next
# turn of the event loop (a scan's burst of results - table, browser, suggestions, folders
# - handled in one pass was one long stall)
DRAIN_BUDGET_S = 0.008
THREAD_NICENESS = 10  # added to each pool thread's niceness (see _yield_to_gui)
# what a training's steps outside its passes are called on screen (training_events.Stage)
STAGE_WORDS = {
    "export": "saving what it learned",
    "compare": "checking it against your newest plays",
}


def learning_words(event: TrainingEvent) -> str | None:
    """What a training's progress event says on screen, in the listener's words ("reading
    your 42,750 plays…", "pass 2, about 32 s left", "saving what it learned…"); None for
    events not shown. (Reading a long history is the longest silent wait: 90 s at a
    million plays.)"""
    if isinstance(event, Start):
        return f"reading your {count(event.plays, 'play')}…"
    if isinstance(event, Data):  # the first pass runs until its end: no pass is done yet
        return f"first pass over {count(event.targets, 'play')}…"
    if isinstance(event, Epoch):
        left = f", about {round(event.eta_s)} s left" if event.eta_s else ""
        return f"pass {event.epoch}{left}"
    if isinstance(event, Stage):
        return f"{STAGE_WORDS.get(event.name, event.name)}…"
    return None


def error_line(exc: BaseException) -> str:
    """One clear line for the user: the message, never a traceback."""
    text = str(exc).strip().splitlines()
    return text[0] if text and text[0] else type(exc).__name__


@dataclass
class Task:
    """A handle on a background task: cancel it, ask whether it is still running."""

    token: int
    key: str | None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    done: bool = False

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


def _yield_to_gui() -> None:
    """In each pool thread: a lower scheduling priority for this thread alone (Linux
    schedules threads one by one), so on busy cores the GUI thread runs first."""
    if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), THREAD_NICENESS)
        except OSError:  # not allowed here: the thread keeps the process's priority
            log.debug("pool thread priority unchanged", exc_info=True)


class _Progress:
    """The newest progress values of each running task (plain data, any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[int, tuple] = {}

    def reporter(self, token: int) -> Callable[..., None]:
        def report(*values: Any) -> None:
            with self._lock:
                self._latest[token] = values

        return report

    def take(self) -> dict[int, tuple]:
        with self._lock:
            latest, self._latest = self._latest, {}
        return latest


class _Pending:
    """How many submitted tasks have not finished on their pool thread yet."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def add(self) -> None:
        with self._changed:
            self._count += 1

    def done(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait(self, timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout_s)


def _run(
    token: int,
    job: list[Callable[..., Any]],
    report: Callable[..., None] | None,
    outbox: queue.SimpleQueue,
    pending: _Pending,
) -> None:
    """The pool thread's side: run the job, drop it, post plain data. Never raises."""
    fn = job.pop()
    try:
        message = (token, True, fn() if report is None else fn(report))
    except TrainingCancelled as exc:  # asked for (a cancel, the player quitting): no failure
        log.info("background task stopped: %s", exc)
        message = (token, False, error_line(exc))
    except Exception as exc:  # reported to the GUI as one line
        log.warning("background task failed: %s", error_line(exc))
        log.debug("background task failed", exc_info=True)
        message = (token, False, error_line(exc))
    del fn, report  # the GUI thread holds the last reference to the job, not this thread
    outbox.put(message)
    pending.done()


class TaskRunner(QObject):
    """``run_task`` over a Python thread pool; results reach the GUI thread by a timer
    that drains a queue of plain data (no Qt object is ever touched on a pool thread)."""

    busy_changed = Signal(int)  # number of tasks running

    def __init__(self, parent: QObject | None = None, *, threads: int | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(
            max_workers=threads or max(2, QThread.idealThreadCount()),
            thread_name_prefix="segue-task",
            initializer=_yield_to_gui,
        )
        self._outbox: queue.SimpleQueue[tuple[int, bool, Any]] = queue.SimpleQueue()
        self._progress = _Progress()
        self._pending = _Pending()
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self._drain)
        self._next = 0
        # token -> (task, fn, on_done, on_error, on_progress), kept on the GUI thread
        self._tasks: dict[int, tuple[Task, Callable, Callable, Callable | None, Callable | None]]
        self._tasks = {}
        self._latest: dict[str, int] = {}
        self._closed = False

    def run_task(
        self,
        fn: Callable[..., Any],
        on_done: Callable[[Any], None],
        *,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[..., None] | None = None,
        key: str | None = None,
        task: Task | None = None,
    ) -> Task:
        """Run *fn* in the pool; call *on_done(result)* on the GUI thread unless stale.

        With *on_progress*, *fn* is called with ``report(*values)``; *on_progress(*values)*
        gets the newest values on the GUI thread. *fn* must return plain data (never a Qt
        object) and should capture only plain data (paths, ids, events), never a widget.
        """
        self._next += 1
        token = self._next
        if task is None:
            task = Task(token, key)
        else:
            task.token, task.key = token, key
        if self._closed:
            log.debug("not starting a task after shutdown")
            task.cancel()
            task.done = True
            return task
        if key is not None:
            self._latest[key] = token
        self._tasks[token] = (task, fn, on_done, on_error, on_progress)
        report = self._progress.reporter(token) if on_progress is not None else None
        self._pending.add()
        self._pool.submit(_run, token, [fn], report, self._outbox, self._pending)
        if not self._timer.isActive():
            self._timer.start()
        self.busy_changed.emit(len(self._tasks))
        return task

    def _drain(self) -> None:
        began = time.perf_counter()
        for token, values in self._progress.take().items():
            entry = self._tasks.get(token)
            if entry is not None and entry[4] is not None and self._current(entry[0]):
                entry[4](*values)
        while True:
            if time.perf_counter() - began > DRAIN_BUDGET_S and not self._closed:
                self._timer.start(0)  # the rest on the next turn, after paints and input
                return
            try:
                token, ok, payload = self._outbox.get_nowait()
            except queue.Empty:
                break
            self._finished(token, ok, payload)
        if not self._tasks:
            self._timer.stop()
        elif self._timer.interval() != DRAIN_MS:
            self._timer.start(DRAIN_MS)

    def _current(self, task: Task) -> bool:
        """Neither cancelled nor made stale by a newer task under the same key."""
        if task.cancelled:
            return False
        return task.key is None or self._latest.get(task.key) == task.token

    def _finished(self, token: int, ok: bool, payload: Any) -> None:
        entry = self._tasks.pop(token, None)
        self.busy_changed.emit(len(self._tasks))
        if entry is None:
            return
        task, _fn, on_done, on_error, _ = entry
        task.done = True
        if not self._current(task):
            log.debug("dropping the result of a stale or cancelled task %s", task.key)
            return
        if ok:
            on_done(payload)
        elif on_error is not None:
            on_error(payload)
        else:
            log.warning("background task failed: %s", payload)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def cancel_all(self) -> None:
        for task, *_ in self._tasks.values():
            task.cancel()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Wait until every task has finished on its pool thread (results not yet handled:
        they arrive from the event loop)."""
        return self._pending.wait(timeout_ms / 1000)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every task, wait for the pool and let its threads go: used when the window
        closes. Later tasks are not started."""
        self.cancel_all()
        finished = self.wait(timeout_ms)
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._drain()
        return finished


class TrainingJob(QObject):
    """*Retrain now*: :func:`player_plugin.app.retrain.retrain` on a :class:`TaskRunner`
    pool thread (the trainer is its child process, as for ``segue train``).

    ``progress(event)`` carries each training event (a frozen dataclass of
    :mod:`player_plugin.domain.training_events`) to the GUI thread, ``finished(result,
    error)`` the :class:`~player_plugin.app.retrain.RetrainResult` (None on failure) and
    one error line ("" on success). ``cancel()`` stops the trainer and waits until the
    worker is done; the trainer removes its unfinished folder.
    """

    progress = Signal(object)
    finished = Signal(object, str)

    def __init__(
        self,
        runner: TaskRunner,
        db_path: str | os.PathLike[str],
        parent: QObject | None = None,
        *,
        extra: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.db_path = os.fspath(db_path)
        self.extra = extra
        self._cancel = threading.Event()
        self._worker_done = threading.Event()
        self._started = False
        self._ended = False

    def start(self) -> None:
        self._started = True
        self.runner.run_task(self._work, self._done, on_error=self._failed)

    def _work(self) -> RetrainResult:  # on the pool thread: plain data in and out
        try:
            return retrain(
                self.db_path, on_event=self.progress.emit, cancel=self._cancel, extra=self.extra
            )
        finally:
            self._worker_done.set()

    @property
    def running(self) -> bool:
        """Started and ``finished`` not yet emitted."""
        return self._started and not self._ended

    def cancel(self, wait_s: float = 30.0) -> None:
        """Stop training; returns once the trainer has stopped (or after *wait_s*). A run
        that already ended keeps its result (it is on its way to the GUI thread)."""
        if not self.running or self._worker_done.is_set():
            return
        self._cancel.set()
        if not self._worker_done.wait(wait_s):
            log.warning("training did not stop within %.0f s", wait_s)
        self._finish(None, "training cancelled")

    def _done(self, result: RetrainResult) -> None:
        self._finish(result, "")

    def _failed(self, error: str) -> None:
        self._finish(None, error)

    def _finish(self, result: RetrainResult | None, error: str) -> None:
        if self._ended:
            return
        self._ended = True
        self.finished.emit(result, error)
