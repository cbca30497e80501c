"""Background work for the GUI: a thread pool whose results come back by signal (Picard
``picard/util/thread.py``), and *Retrain now* run on it (:class:`TrainingJob`).

``TaskRunner.run_task(fn, on_done)`` runs *fn* on a pool thread; *on_done(result)* (or
*on_error(message)*) runs later on the GUI thread. Tasks started under the same *key* make
earlier ones stale: their results are dropped, so a slow answer never overwrites a newer
one. A task that needs the store opens its own connection (one connection per thread).
Python's garbage collection runs from the GUI event loop once a runner exists
(:mod:`player_plugin.ui.collector`), never on a pool thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from player_plugin.app.retrain import RetrainResult, retrain
from player_plugin.ui import collector

log = logging.getLogger(__name__)


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


class _Relay(QObject):
    finished = Signal(int, bool, object)  # token, ok, result-or-message


class _Runnable(QRunnable):
    def __init__(self, token: int, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._token, self._fn, self._relay = token, fn, relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # reported to the GUI as one line
            log.warning("background task failed: %s", error_line(exc))
            log.debug("background task failed", exc_info=True)
            self._relay.finished.emit(self._token, False, error_line(exc))
        else:
            self._relay.finished.emit(self._token, True, result)


class TaskRunner(QObject):
    """``run_task`` over a ``QThreadPool``; results reach the GUI thread by a signal. The
    first runner moves garbage collection to the GUI event loop (:func:`collector.install`):
    a collection on a pool thread would destroy Qt objects there."""

    busy_changed = Signal(int)  # number of tasks running

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        collector.install()
        self.pool = pool or QThreadPool(self)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._finished)
        self._next = 0
        self._tasks: dict[int, tuple[Task, Callable, Callable | None]] = {}
        self._latest: dict[str, int] = {}

    def run_task(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        *,
        on_error: Callable[[str], None] | None = None,
        key: str | None = None,
        task: Task | None = None,
    ) -> Task:
        """Run *fn* in the pool; call *on_done(result)* on the GUI thread unless stale."""
        self._next += 1
        token = self._next
        if task is None:
            task = Task(token, key)
        else:
            task.token, task.key = token, key
        if key is not None:
            self._latest[key] = token
        self._tasks[token] = (task, on_done, on_error)
        self.pool.start(_Runnable(token, fn, self._relay))
        self.busy_changed.emit(len(self._tasks))
        return task

    def _finished(self, token: int, ok: bool, payload: Any) -> None:
        task, on_done, on_error = self._tasks.pop(token, (None, None, None))
        self.busy_changed.emit(len(self._tasks))
        if task is None:
            return
        task.done = True
        if task.key is not None and self._latest.get(task.key) != token:
            log.debug("dropping stale result of %s", task.key)
            return
        if task.cancelled:
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
        for task, _, _ in self._tasks.values():
            task.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every task and wait for the pool: used when the window closes."""
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)


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
