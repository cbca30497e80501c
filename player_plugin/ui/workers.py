"""Background work for the GUI: a thread pool whose results come back by signal, and the
trainer as a subprocess streaming JSON progress lines (Picard ``picard/util/thread.py``).

``TaskRunner.run_task(fn, on_done)`` runs *fn* on a pool thread; *on_done(result)* (or
*on_error(message)*) runs later on the GUI thread. Tasks started under the same *key* make
earlier ones stale: their results are dropped, so a slow answer never overwrites a newer
one. A task that needs the store opens its own connection (one connection per thread).
Python's garbage collection runs from the GUI event loop once a runner exists
(:mod:`player_plugin.ui.collector`), never on a pool thread.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QRunnable, QThreadPool, Signal

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
    """``python -m training ...`` as a QProcess: one JSON object per stdout/stderr line.

    ``progress(dict)`` for each progress line, ``finished(result_or_None, error_or_empty)``
    at the end. ``cancel()`` terminates the trainer; it writes its model atomically, so a
    cancelled run leaves no half-written model behind.
    """

    progress = Signal(dict)
    finished = Signal(object, str)

    def __init__(self, args: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.args = args
        self.process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        self.process.setProcessEnvironment(env)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._done)
        self.process.errorOccurred.connect(self._error)
        self._out = b""
        self._err = b""
        self._last_error = ""
        self._result: dict | None = None
        self.curve: list[dict] = []  # epoch events, for the model report
        self._cancelled = False
        self._ended = False

    def start(self) -> None:
        log.info("starting trainer: %s %s", sys.executable, " ".join(self.args))
        self.process.start(sys.executable, self.args)

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def cancel(self, wait_ms: int = 15_000) -> None:
        """Stop the trainer: an interrupt first (``segue train`` then stops its own trainer
        process, which removes its unfinished folder), terminate and kill as fallbacks."""
        if not self.running:
            return
        self._cancelled = True
        pid = int(self.process.processId())
        if pid > 0 and hasattr(signal, "SIGINT") and os.name == "posix":
            os.kill(pid, signal.SIGINT)
            if self.process.waitForFinished(wait_ms):
                return
        self.process.terminate()
        if not self.process.waitForFinished(wait_ms):
            self.process.kill()
            self.process.waitForFinished(wait_ms)

    def _lines(self, buffer: bytes, chunk: bytes) -> tuple[bytes, list[dict | str]]:
        buffer += chunk
        *complete, rest = buffer.split(b"\n")
        items: list[dict | str] = []
        for raw in complete:
            text = raw.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except ValueError:
                items.append(text)
            else:
                items.append(value if isinstance(value, dict) else text)
        return rest, items

    def _handle(self, items: list[dict | str], stdout: bool) -> None:
        for item in items:
            if isinstance(item, dict):
                event = item.get("event")
                if event == "error" and item.get("message"):
                    self._last_error = str(item["message"])
                if "epoch" in item and event in (None, "epoch"):
                    self.curve.append(item)
                if stdout and "model_id" in item and event is None:
                    self._result = item
                else:
                    self.progress.emit(item)
            else:
                if item.lower().startswith(("segue:", "error", "training:")):
                    self._last_error = item
                log.info("trainer: %s", item)

    def _read_stdout(self) -> None:
        self._out, items = self._lines(self._out, bytes(self.process.readAllStandardOutput()))
        self._handle(items, stdout=True)

    def _read_stderr(self) -> None:
        self._err, items = self._lines(self._err, bytes(self.process.readAllStandardError()))
        self._handle(items, stdout=False)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish(None, "the trainer could not be started")

    def _done(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        for tail, stdout in ((self._out, True), (self._err, False)):
            if tail.strip():
                self._handle(self._lines(tail, b"\n")[1], stdout)
        if self._cancelled:
            self._finish(None, "training cancelled")
        elif code != 0 or status != QProcess.ExitStatus.NormalExit:
            self._finish(None, self._last_error or f"training failed (exit status {code})")
        else:
            self._finish(self._result or {}, "")

    def _finish(self, result: dict | None, error: str) -> None:
        if self._ended:
            return
        self._ended = True
        self.finished.emit(result, error)
