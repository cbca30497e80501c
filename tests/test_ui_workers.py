"""Background work: results reach the GUI thread by signal, stale ones are dropped, errors
arrive as one line; *Retrain now* runs app.retrain on the pool, its typed progress reaches the
GUI thread, and it can be cancelled."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time

import pytest
from PySide6.QtCore import QObject, Qt, QThread
from test_model_fixtures import fill_store

from player_plugin.app.retrain import RetrainResult, TrainingCancelled
from player_plugin.domain.training_events import Epoch, Start
from player_plugin.ui.workers import TaskRunner, TrainingJob


def test_result_arrives_on_the_gui_thread(qtbot):
    runner = TaskRunner()
    seen: list = []
    gui = QThread.currentThread()
    worker_thread: list = []

    def job():
        worker_thread.append(QThread.currentThread())
        return 42

    runner.run_task(job, lambda r: seen.append((r, QThread.currentThread())))
    qtbot.waitUntil(lambda: bool(seen))
    assert seen[0][0] == 42 and seen[0][1] is gui
    assert worker_thread[0] is not gui


def test_the_garbage_collector_is_left_alone(qtbot):
    """Nothing process-wide changes: automatic collection stays on, thresholds as they were."""
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    runner = TaskRunner()
    done: list = []
    runner.run_task(lambda: [[] for _ in range(50_000)] and "ok", done.append)
    qtbot.waitUntil(lambda: bool(done))
    assert (gc.isenabled(), gc.get_threshold()) == (enabled, thresholds) == (True, thresholds)


def test_a_pool_thread_never_destroys_a_qt_object(qtbot):
    """The GUI-thread deadlock: ~QObject ran on a pool thread (it held Qt's connection lock
    and waited for the GIL) while the GUI thread held the GIL in QObject::connect. Here
    tasks capture the only other reference to Qt objects with Python slots connected, the
    GUI thread connects signals meanwhile, and every object is destroyed on the GUI thread:
    the pool thread lets go of its job before posting the result, and the GUI thread drops
    it afterwards. (On the old design, where the pool thread dropped the job, the objects
    died on pool threads and the test hung or failed.)"""
    runner = TaskRunner()
    gui = threading.get_ident()
    destroyed_on: list[int] = []
    done: list = []

    def note(*_):
        destroyed_on.append(threading.get_ident())

    def start(n: int) -> None:
        obj = QObject()
        obj.objectNameChanged.connect(lambda name: None)  # a Python slot ~QObject must free
        obj.destroyed.connect(note, Qt.ConnectionType.DirectConnection)

        def job():
            time.sleep(0.002)
            return obj.objectName() == "" and n

        runner.run_task(job, done.append)

    for n in range(60):
        start(n)
    churn = QObject()

    def busy_gui() -> bool:
        for _ in range(20):  # QObject::connect on the GUI thread, as in the deadlock
            churn.objectNameChanged.connect(note)
            churn.objectNameChanged.disconnect(note)
        return len(done) == 60

    qtbot.waitUntil(busy_gui, timeout=20_000)
    gc.collect()
    qtbot.waitUntil(lambda: len(destroyed_on) == 60, timeout=5_000)
    assert set(destroyed_on) == {gui}


def test_progress_reaches_the_gui_thread_newest_first(qtbot):
    runner = TaskRunner()
    seen: list = []
    done: list = []
    release = threading.Event()

    def job(report):
        for i in range(1, 1001):
            report(i, 1000)
        release.wait(5)
        return "done"

    runner.run_task(
        job, done.append, on_progress=lambda *v: seen.append((v, threading.get_ident()))
    )
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == (1000, 1000))
    release.set()
    qtbot.waitUntil(lambda: done == ["done"])
    assert {t for _, t in seen} == {threading.get_ident()}
    assert len(seen) < 1000  # coalesced: the GUI gets the newest values, not a flood
    assert [v for v, _ in seen] == sorted(v for v, _ in seen)


def test_stale_results_are_dropped(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    seen: list = []
    runner.run_task(lambda: release.wait(5) and "old", seen.append, key="k")
    runner.run_task(lambda: "new", seen.append, key="k")
    qtbot.waitUntil(lambda: seen == ["new"])
    release.set()
    assert runner.wait(5000)
    qtbot.wait(50)
    assert seen == ["new"]


def test_errors_come_back_as_one_line(qtbot):
    runner = TaskRunner()
    errors: list[str] = []

    def boom():
        raise OSError("disk on fire\nwith details nobody needs")

    runner.run_task(boom, lambda r: None, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors))
    assert errors == ["disk on fire"]


def test_a_cancelled_training_is_no_failure(qtbot, caplog):
    """Quitting while the model trains printed 'background task failed: training
    cancelled' on the player's terminal; a cancel is asked for, not a failure."""
    runner = TaskRunner()
    errors: list[str] = []

    def cancelled():
        raise TrainingCancelled("training cancelled")

    def broken():
        raise OSError("disk on fire")

    with caplog.at_level(logging.INFO, logger="player_plugin.ui.workers"):
        runner.run_task(cancelled, lambda r: None, on_error=errors.append)
        runner.run_task(broken, lambda r: None, on_error=errors.append)
        qtbot.waitUntil(lambda: len(errors) == 2)
    assert sorted(errors) == ["disk on fire", "training cancelled"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["background task failed: disk on fire"]
    runner.shutdown()


def test_cancelled_task_result_is_dropped(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    seen: list = []
    task = runner.run_task(lambda: release.wait(5), seen.append)
    task.cancel()
    release.set()
    assert runner.shutdown(5000)
    qtbot.wait(50)
    assert seen == []


TINY = ["--epochs", "2", "--dim", "8", "--negatives", "16", "--hidden", "16"]


def test_training_job_relays_typed_events_to_the_gui_thread(qtbot, db, db_path):
    fill_store(db, 700)
    runner = TaskRunner()
    job = TrainingJob(runner, db_path, extra=TINY)
    events: list = []
    gui = QThread.currentThread()
    job.progress.connect(lambda e: events.append((e, QThread.currentThread())))
    with qtbot.waitSignal(job.finished, timeout=180_000) as done:
        job.start()
        assert job.running
    result, error = done.args
    assert error == "" and isinstance(result, RetrainResult) and result.model_id
    assert all(thread is gui for _, thread in events)
    epochs = [e.epoch for e, _ in events if isinstance(e, Epoch)]
    assert epochs == [1, 2] and isinstance(events[0][0], Start)
    assert not job.running
    runner.shutdown()


def test_training_job_cancel_and_failure_are_reported(qtbot, db, db_path):
    fill_store(db, 700)
    runner = TaskRunner()
    job = TrainingJob(runner, db_path, extra=["--epochs", "50"])
    finished: list = []
    job.finished.connect(lambda *args: finished.append(args))
    with qtbot.waitSignal(job.progress, timeout=120_000):
        job.start()
    job.cancel()  # returns once the trainer has stopped
    assert not job.running
    assert finished == [(None, "training cancelled")]
    assert list((db_path.parent / "models").iterdir()) == []
    failing = TrainingJob(runner, db_path, extra=["--no-such-option"])
    with qtbot.waitSignal(failing.finished, timeout=60_000) as done:
        failing.start()
    assert done.args[0] is None
    assert "unrecognized arguments: --no-such-option" in done.args[1]
    runner.shutdown()


def test_a_burst_of_results_is_handed_over_across_turns_of_the_event_loop(qtbot):
    """Results that finish together reach the GUI thread in order, all of them, but not
    in one long pass: once a pass has spent its budget, the rest wait for the next turn
    (a scan's burst of results was one long stall of the event loop)."""
    from PySide6.QtCore import QTimer

    from player_plugin.ui import workers

    runner = TaskRunner(threads=1)
    gate = threading.Event()
    handled: list[int] = []
    turns: list[int] = []  # how many timer ticks had run when each result was handled
    ticks = [0]
    beat = QTimer()
    beat.setInterval(0)
    beat.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    beat.start()

    def slow_handler(value: int) -> None:
        handled.append(value)
        turns.append(ticks[0])
        time.sleep(workers.DRAIN_BUDGET_S * 0.75)  # two handlers fill a pass's budget

    runner.run_task(gate.wait, lambda _: None)  # holds the one pool thread
    for value in range(6):
        runner.run_task(lambda v=value: v, slow_handler)
    gate.set()
    runner.wait()  # all six results are queued before the GUI thread drains any
    qtbot.waitUntil(lambda: len(handled) == 6, timeout=5_000)
    beat.stop()
    assert handled == list(range(6))
    assert len(set(turns)) >= 3  # at most two handlers in a pass
    assert runner.running == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority")
def test_pool_threads_yield_the_processor_to_the_gui_thread(qtbot):
    """Each pool thread runs at a lower priority than the GUI thread (on busy cores the
    table's sort on the pool stalled the event loop 60-100 ms; the thread alone is niced,
    not the process)."""
    from player_plugin.ui import workers

    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    runner = TaskRunner()
    seen: list[int] = []
    runner.run_task(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), seen.append)
    qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    assert seen[0] == min(19, gui + workers.THREAD_NICENESS) > gui
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui
    assert os.getpriority(os.PRIO_PROCESS, 0) == gui  # the process is left as it was
