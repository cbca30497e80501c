"""Retrain and promote: the one client of the trainer, for every face.

:func:`retrain` trains a model on every play but the newest ones in ``python -m training``
(a child process, Qt-free), reads its progress as typed events
(:mod:`player_plugin.domain.training_events`), records the training curve in the model's
registry row, and promotes the model only if it scores at least the active model's and
the best baseline's NDCG@10 on those newest plays (:mod:`player_plugin.recommend.model_eval`).
``segue train``, the GUI's *Retrain now*, the import wizard and the retraining policy all
call it; the GUI runs it on a worker thread.

One training per models folder at a time (a file lock). Under the lock it first cleans
what an interrupted run left: temporary export folders of dead trainers, ``candidate``
rows that never finished their comparison, model folders without a registry row. A
cancel (a :class:`threading.Event`) asks the trainer to stop (SIGTERM), then kills it; a
failure raises :class:`TrainingError` with the real cause (the trainer's last error line,
or the signal that killed it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from player_plugin.domain import training_events as ev
from player_plugin.domain.errors import SegueError
from player_plugin.domain.words import count
from player_plugin.recommend import model_eval as me
from player_plugin.recommend.engine import Engine, ModelError
from player_plugin.recommend.model import ModelRecommender
from player_plugin.store import models as reg
from player_plugin.store.catalogue import load_catalogue, load_plays
from player_plugin.store.db import open_db

log = logging.getLogger(__name__)

__all__ = [
    "RetrainResult",
    "TrainingCancelled",
    "TrainingError",
    "cleanup_leftovers",
    "fit_model",
    "retrain",
    "run_trainer",
    "trainer_command",
]

PARENT_ENV = "SEGUE_TRAINER_PARENT"  # read by training/__main__.py: it dies with us
STOP_WAIT_S = 15.0  # after SIGTERM, how long the trainer gets before SIGKILL
_TMP = re.compile(r"^\..+\.tmp-(\d+)$")  # training/__main__.py's export folder

EventSink = Callable[[ev.TrainingEvent], None]


class TrainingError(SegueError):
    """The trainer failed, or training could not start; the message says why."""


class TrainingCancelled(TrainingError):
    """Training was cancelled on request; nothing half-done is left."""


@dataclass(frozen=True)
class RetrainResult:
    """What a retrain did: ``segue train --json`` prints :meth:`as_dict`."""

    model_id: str | None
    promoted: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "promoted": self.promoted,
            "reason": self.reason,
            "metrics": self.metrics,
            "seconds": self.seconds,
        }

    def summary(self) -> str:
        """One line for people."""
        if not self.model_id:
            return f"No model trained: {self.reason}." if self.reason else "No model trained."
        # in music words: the figures and method names of the reason are for the model
        # report's Advanced section (and segue train --json)
        if self.promoted:
            return (
                "Your new model is trained: it guessed your newest plays at least as well "
                "as what suggested before, so it suggests from now on."
            )
        return (
            "A new model was trained but did not guess your newest plays better than what "
            "suggests now, so your suggestions stay as they are (Model report ▸ Advanced "
            "says why)."
        )


# -- the trainer process -------------------------------------------------------------------


def trainer_command(
    db_path: str | os.PathLike[str],
    out: Path,
    *,
    until_ms: int | None = None,
    skip_blind: bool = False,
    extra: list[str] | None = None,
) -> list[str]:
    """``python -m training`` with its arguments."""
    cmd = [sys.executable, "-m", "training", "--db", str(db_path), "--out", str(out)]
    if until_ms is not None:
        cmd += ["--until", str(int(until_ms))]
    if skip_blind:
        cmd.append("--skip-blind")
    return cmd + list(extra or [])


def _cause(status: int, last: ev.TrainingEvent | None, errors: deque[str]) -> str:
    """The real reason a trainer run failed, in one line."""
    if isinstance(last, ev.Failed):
        return last.message
    line = errors[-1] if errors else ""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the trainer was killed by {name}" + (f" (its last words: {line})" if line else "")
    if line:
        return line
    return f"the trainer stopped with exit status {status} and no message"


def run_trainer(
    cmd: list[str],
    *,
    on_event: EventSink | None = None,
    cancel: threading.Event | None = None,
) -> ev.Done:
    """Run the trainer *cmd*, passing each progress event to *on_event* (on this thread);
    returns its ``Done`` event. Setting *cancel* stops it (SIGTERM, then SIGKILL after
    :data:`STOP_WAIT_S`) and raises :class:`TrainingCancelled`; any other failure raises
    :class:`TrainingError` with the cause."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_ENV] = str(os.getpid())
    cancel = cancel or threading.Event()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except OSError as exc:
        raise TrainingError(f"the trainer could not be started: {exc}") from exc
    errors: deque[str] = deque(maxlen=20)
    finished = threading.Event()

    def drain(stream: IO[bytes]) -> None:
        for raw in stream:
            text = raw.decode("utf-8", "replace").strip()
            if text:
                errors.append(text)
                log.info("trainer: %s", text)

    def stop_on_cancel() -> None:
        while not finished.wait(0.2):
            if cancel.is_set():
                _stop(proc)
                return

    assert proc.stdout is not None and proc.stderr is not None
    threads = [
        threading.Thread(target=drain, args=(proc.stderr,), name="trainer-stderr", daemon=True),
        threading.Thread(target=stop_on_cancel, name="trainer-cancel", daemon=True),
    ]
    for thread in threads:
        thread.start()
    last: ev.TrainingEvent | None = None
    try:
        for raw in proc.stdout:
            event = ev.from_line(raw)
            if event is None:
                text = raw.decode("utf-8", "replace").strip()
                if text:
                    errors.append(text)
                    log.info("trainer: %s", text)
                continue
            last = event
            log.debug("trainer: %s", event)
            if on_event is not None:
                on_event(event)
        status = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    finally:
        finished.set()
        for thread in threads:
            thread.join(5)
    if status == 0 and isinstance(last, ev.Done):
        return last
    if cancel.is_set() or isinstance(last, ev.Cancelled):
        raise TrainingCancelled("training cancelled")
    raise TrainingError(f"training failed: {_cause(status, last, errors)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the trainer to stop (it removes its unfinished folder), kill it if it won't."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        log.warning("the trainer did not stop within %.0f s; killing it", STOP_WAIT_S)
        proc.kill()
        proc.wait()


def fit_model(
    db_path: str | os.PathLike[str],
    cutoff_ms: int | None,
    *,
    skip_blind: bool = False,
    extra: list[str] | None = None,
) -> ModelRecommender:
    """Train on the plays of *db_path* before *cutoff_ms* and return the served model, for
    offline evaluation (call its ``fit(plays, catalogue)`` with the history before the
    split). What is scored is exactly what serving runs: the exported ONNX in an Engine."""
    with tempfile.TemporaryDirectory(prefix="segue-eval-") as tmp:
        out = Path(tmp) / "model"
        run_trainer(
            trainer_command(db_path, out, until_ms=cutoff_ms, skip_blind=skip_blind, extra=extra)
        )
        engine = Engine(out)  # the ONNX files are read into memory here
    rec = ModelRecommender(engine)
    rec.name = "model-skip-blind" if skip_blind else "model"
    return rec


# -- leftovers of interrupted runs ---------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _training_lock(root: Path) -> Iterator[None]:
    """One training per models folder: a lock on the folder itself (no file of its own),
    which dies with its process (kill -9 too)."""
    reg.ensure_models_root(root)  # created for the user only (0700)
    fd = os.open(root, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TrainingError("training is already running for this library") from exc
        yield
    finally:
        os.close(fd)


def cleanup_leftovers(db: Any) -> list[str]:
    """Remove what interrupted trainings left (call under the training lock): export
    folders of trainers no longer running, ``candidate`` rows that never finished their
    comparison (with their folders), and model folders without a registry row. Returns
    the names removed."""
    root = reg.models_root(db)
    removed: list[str] = []
    if root.is_dir():
        for path in root.iterdir():
            match = _TMP.match(path.name)
            if match and path.is_dir() and not _alive(int(match.group(1))):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    for row in reg.list_models(db):
        if row["state"] == "candidate":
            reg.delete_model(db, row["id"])
            removed.append(row["id"])
    removed += reg.remove_orphan_folders(db)
    if removed:
        log.info("removed what interrupted trainings left: %s", ", ".join(removed))
    return removed


# -- retrain and promote -------------------------------------------------------------------


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled")


def retrain(
    db_path: str | os.PathLike[str],
    *,
    on_event: EventSink | None = None,
    cancel: threading.Event | None = None,
    extra: list[str] | None = None,
) -> RetrainResult:
    """Retrain on the store at *db_path* and promote the model only if it is at least as
    good as the active one and the best baseline on the newest plays. Runs on any thread
    (it opens its own connection). *extra* are trainer options (tests, benchmarks)."""
    started = time.monotonic()
    db = open_db(db_path)
    try:
        root = reg.models_root(db)
        with _training_lock(root):
            cleanup_leftovers(db)
            return _retrain(db, Path(db_path), started, on_event, cancel, extra)
    finally:
        db.close()


def _retrain(
    db: Any,
    db_path: Path,
    started: float,
    on_event: EventSink | None,
    cancel: threading.Event | None,
    extra: list[str] | None,
) -> RetrainResult:
    def result(model_id: str | None, promoted: bool, reason: str, metrics: dict) -> RetrainResult:
        seconds = round(time.monotonic() - started, 2)
        return RetrainResult(model_id, promoted, reason, metrics, seconds)

    catalogue = load_catalogue(db)
    plays = load_plays(db, catalogue)
    start = me.holdout_start(plays)
    if start is None:
        listens = sum(p.listened for p in plays)
        return result(
            None,
            False,
            f"not enough history yet: {count(listens, 'listened play')}; the model trains from "
            f"{me.MIN_LISTENS} on (until then your listening patterns suggest)",
            {},
        )
    active_row = reg.active_model(db)
    active = None
    if active_row is not None:
        try:
            active = ModelRecommender(Engine(reg.model_folder(db, active_row)))
        except ModelError as exc:
            log.warning("the active model cannot load (%s); comparing with baselines only", exc)
        if active is not None and active_row.get("cutoff"):
            while start < len(plays) and plays[start].started_at < active_row["cutoff"]:
                start += 1
    held = sum(p.listened for p in plays[start:])
    if held < me.MIN_HOLDOUT:
        return result(
            None,
            False,
            f"only {count(held, 'listened play')} since the active model was trained; retrain "
            f"after {me.MIN_HOLDOUT}",
            {},
        )
    _check(cancel)
    cutoff = plays[start].started_at
    model_id = reg.new_model_id(db)
    folder = reg.models_root(db) / model_id
    curve: list[ev.Epoch] = []

    def relay(event: ev.TrainingEvent) -> None:
        if isinstance(event, ev.Epoch):
            curve.append(event)
        if on_event is not None:
            on_event(event)

    with _measured_meanwhile(active, plays, catalogue, start, cancel) as others:
        done = run_trainer(
            trainer_command(db_path, folder, until_ms=cutoff, extra=extra),
            on_event=relay,
            cancel=cancel,
        )
        metrics: dict[str, Any] = {"validation": done.metrics, "curve": reg.curve_points(curve)}
        reg.add_model(
            db,
            model_id,
            folder=model_id,
            cutoff=cutoff,
            data_size=start,
            metrics=metrics,
            state="candidate",
        )
        try:
            candidate = ModelRecommender(Engine(folder))
        except ModelError as exc:
            reg.update_model(db, model_id, state="rejected", reason=str(exc))
            return result(model_id, False, f"the exported model does not load: {exc}", metrics)
        if on_event is not None:  # (the new model scored on the newest plays: seconds)
            on_event(ev.Stage("compare"))
        try:
            comparison = me.compare_on_holdout(
                candidate, active, plays, catalogue, start, cancel, others=others
            )
        except me.Interrupted:
            reg.delete_model(db, model_id)
            raise TrainingCancelled("training cancelled") from None
        metrics["holdout"] = comparison
        promoted, reason = me.decide(comparison)
        reg.update_model(db, model_id, metrics=metrics, reason=reason)
        if promoted:
            reg.activate(db, model_id)
        else:
            reg.update_model(db, model_id, state="rejected")
        reg.prune(db)
        return result(model_id, promoted, reason, metrics)


class _Either:
    """Set when it was set, or when the event it watches is (what a comparison polls)."""

    def __init__(self, watched: threading.Event | None) -> None:
        self.watched = watched
        self.own = threading.Event()

    def set(self) -> None:
        self.own.set()

    def is_set(self) -> bool:
        return self.own.is_set() or (self.watched is not None and self.watched.is_set())


@contextmanager
def _measured_meanwhile(
    active: ModelRecommender | None,
    plays: list,
    catalogue: Any,
    start: int,
    cancel: threading.Event | None,
) -> Iterator[Callable[[], dict]]:
    """What a candidate is compared with (the active model, the baselines) does not depend
    on it: measured on a thread while the trainer runs, which leaves a core idle for most
    of its epoch. Yields what gives those figures (waiting for them); on leaving, a
    comparison no longer wanted ends at its next play."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="compare")
    stop = _Either(cancel)
    figures = pool.submit(me.compare_others, active, plays, catalogue, start, stop)
    try:
        yield figures.result
    finally:
        stop.set()
        pool.shutdown(wait=True)
