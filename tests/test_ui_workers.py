"""Background work: results reach the GUI thread by signal, stale ones are dropped, errors
arrive as one line; *Retrain now* runs app.retrain on the pool, its typed progress reaches the
GUI thread, and it can be cancelled."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QThread
from test_model_fixtures import fill_store

from player_plugin.app.retrain import RetrainResult
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


class Probe:
    """A reference cycle that notes the thread it is collected on."""

    def __init__(self, collected_on: list[int]) -> None:
        self.collected_on = collected_on
        self.cycle = self

    def __del__(self) -> None:
        self.collected_on.append(threading.get_ident())


def test_garbage_cycles_are_never_collected_on_a_pool_thread(qtbot):
    """A collection on a pool thread would destroy the Qt objects of garbage cycles there,
    off the GUI thread (seen: a deadlock between ~QObject on a pool thread and
    QObject::connect on the GUI thread). Cycles made and dropped in a task, with enough
    allocations after them for many automatic collections, are collected on the GUI
    thread afterwards."""
    collected_on: list[int] = []

    def job():
        for _ in range(10):
            Probe(collected_on)
        return len([[] for _ in range(200_000)])

    runner = TaskRunner()
    assert not gc.isenabled()  # automatic collection is off: it runs from the event loop
    done: list = []
    runner.run_task(job, done.append)
    qtbot.waitUntil(lambda: bool(done))
    gc.collect()  # (the event loop's timer may have collected them already: also here)
    assert collected_on == [threading.get_ident()] * 10


def test_the_event_loop_collects_garbage_cycles(qtbot):
    """With automatic collection off, the GUI thread's timer collects once there is as
    much new garbage as would have tripped Python's own collection."""
    TaskRunner()
    collected_on: list[int] = []
    for _ in range(gc.get_threshold()[0] + 100):
        Probe(collected_on)
    qtbot.waitUntil(lambda: len(collected_on) > 0, timeout=5_000)
    assert set(collected_on) == {threading.get_ident()}


def test_stale_results_are_dropped(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    seen: list = []
    runner.run_task(lambda: release.wait(5) and "old", seen.append, key="k")
    runner.run_task(lambda: "new", seen.append, key="k")
    qtbot.waitUntil(lambda: seen == ["new"])
    release.set()
    assert runner.pool.waitForDone(5000)
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
