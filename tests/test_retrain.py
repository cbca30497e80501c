"""app.retrain, the one trainer client: typed progress events, the real cause of a failure,
a clean cancel, the trainer dying with its parent, and what interrupted runs leave behind
cleaned at the next train."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_model_fixtures import fill_store

from player_plugin.app import retrain as rt
from player_plugin.domain import training_events as ev
from player_plugin.recommend import model_eval as me
from player_plugin.recommend.engine import Engine
from player_plugin.recommend.model import ModelRecommender
from player_plugin.store import models as reg
from player_plugin.store.catalogue import load_catalogue, load_plays

TINY = ["--epochs", "2", "--dim", "8", "--negatives", "16", "--hidden", "16"]
ROOT = Path(__file__).resolve().parents[1]


def test_every_event_survives_the_wire() -> None:
    events = [
        ev.Start(plays=10, tracks=3, until=None, blind=True),
        ev.Data(targets=9, train=8, validation=1, seconds=0.5),
        ev.Epoch(epoch=1, epochs=3, loss=1.5, val_loss=2.0, val_ndcg10=0.25, eta_s=3.0),
        ev.Stage("export"),
        ev.Done(folder="/m/x", metrics={"val_loss": 2.0}, seconds=4.0),
        ev.Cancelled(),
        ev.Failed("ValueError: boom"),
    ]
    for event in events:
        line = ev.to_line(event)
        assert json.loads(line)["event"] == event.kind
        assert ev.from_line(line) == event
        assert ev.from_line(line.encode() + b"\n") == event
    assert ev.from_line("segue: not an event") is None
    assert ev.from_line("{broken") is None
    assert ev.from_line('{"event": "epoch", "epoch": "one"}') is None  # wrong type
    assert ev.from_line('{"event": "nonsense"}') is None
    with pytest.raises(ValueError, match="epoch"):
        ev.from_dict({"event": "epoch", "epoch": 1})  # fields missing


def _fake_trainer(body: str) -> list[str]:
    return [sys.executable, "-c", body]


def test_a_killed_trainer_reports_the_signal_not_its_last_event() -> None:
    start = ev.to_line(ev.Start(plays=5, tracks=2))
    body = f"import os, signal; print({start!r}, flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    seen: list = []
    with pytest.raises(rt.TrainingError) as caught:
        rt.run_trainer(_fake_trainer(body), on_event=seen.append)
    assert seen == [ev.Start(plays=5, tracks=2)]
    assert "killed by SIGKILL" in str(caught.value)
    assert "failed: start" not in str(caught.value)


def test_a_crashed_trainer_reports_its_last_error_line() -> None:
    body = "import sys; print('warming up', file=sys.stderr); raise ValueError('no plays table')"
    with pytest.raises(rt.TrainingError, match="ValueError: no plays table"):
        rt.run_trainer(_fake_trainer(body))
    failed = ev.to_line(ev.Failed("OSError: disk full"))
    with pytest.raises(rt.TrainingError, match="OSError: disk full"):
        rt.run_trainer(_fake_trainer(f"import sys; print({failed!r}); sys.exit(2)"))


def test_cancel_stops_a_trainer_that_ignores_sigterm_by_killing_it(monkeypatch) -> None:
    monkeypatch.setattr(rt, "STOP_WAIT_S", 0.5)
    body = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"print({ev.to_line(ev.Stage('stubborn'))!r}, flush=True); time.sleep(60)"
    )
    cancel = threading.Event()
    started = time.monotonic()
    with pytest.raises(rt.TrainingCancelled):
        rt.run_trainer(_fake_trainer(body), on_event=lambda e: cancel.set(), cancel=cancel)
    assert time.monotonic() - started < 20


def test_retrain_records_the_curve_once_and_promotes_only_evaluated(db, db_path, monkeypatch):
    fill_store(db, 700)
    events: list = []
    result = rt.retrain(db_path, on_event=events.append, extra=TINY)
    assert result.model_id and set(result.as_dict()) == {
        "model_id",
        "promoted",
        "reason",
        "metrics",
        "seconds",
    }
    epochs = [e for e in events if isinstance(e, ev.Epoch)]
    assert [e.epoch for e in epochs] == [1, 2]
    # the comparison on the newest plays is a step of its own for progress displays
    assert events[-1] == ev.Stage("compare") and events.index(epochs[-1]) < len(events) - 1
    row = reg.get_model(db, result.model_id)
    assert reg.model_curve(row) == reg.curve_points(epochs)
    assert row["state"] == ("active" if result.promoted else "rejected")
    assert "holdout" in row["metrics"]
    # nothing else recorded the curve a second time
    assert db.execute("SELECT count(*) FROM settings WHERE key LIKE '%curve%'").fetchone()[0] == 0


def test_cancel_leaves_no_model_row_or_folder(db, db_path):
    fill_store(db, 700)
    cancel = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, ev.Epoch):
            cancel.set()

    with pytest.raises(rt.TrainingCancelled):
        rt.retrain(db_path, on_event=on_event, cancel=cancel, extra=["--epochs", "50"])
    assert reg.list_models(db) == []
    assert list(reg.models_root(db).iterdir()) == []
    # the comparison that ran beside the trainer ended with it
    assert not [t for t in threading.enumerate() if t.name.startswith("compare")]


def test_the_figures_measured_beside_the_trainer_are_those_measured_after_it(db, db_path):
    """The active model's and the baselines' figures are measured while the candidate
    trains: the comparison recorded is the one measured after training, all at once."""
    fill_store(db, 700)
    first = rt.retrain(db_path, extra=TINY)
    assert first.model_id is not None
    if not first.promoted:
        reg.activate(db, first.model_id)
    second = rt.retrain(db_path, extra=[*TINY, "--seed", "7"])
    assert second.model_id is not None
    recorded = reg.get_model(db, second.model_id)["metrics"]["holdout"]
    catalogue = load_catalogue(db)
    plays = load_plays(db, catalogue)
    active_row = reg.get_model(db, first.model_id)
    start = me.holdout_start(plays)
    while plays[start].started_at < active_row["cutoff"]:
        start += 1
    again = me.compare_on_holdout(
        ModelRecommender(Engine(reg.model_folder(db, reg.get_model(db, second.model_id)))),
        ModelRecommender(Engine(reg.model_folder(db, active_row))),
        plays,
        catalogue,
        start,
    )
    assert recorded["active"] is not None and recorded["baselines"]
    assert recorded == json.loads(json.dumps(again))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_train_removes_what_interrupted_runs_left(db, db_path):
    fill_store(db, 100)  # too little to train: the cleanup alone runs
    root = reg.models_root(db)
    root.mkdir()
    dead = root / f".20260101-000000.tmp-{_dead_pid()}"  # trainer killed during export
    dead.mkdir()
    (dead / "model.onnx").write_bytes(b"half")
    running = root / f".20260101-000001.tmp-{os.getpid()}"  # a trainer still running
    running.mkdir()
    orphan = root / "20260101-000002"  # the parent died before recording it
    orphan.mkdir()
    (orphan / "manifest.json").write_text("{}")
    unfinished = root / "20260101-000003"  # killed during the promotion comparison
    unfinished.mkdir()
    (unfinished / "manifest.json").write_text("{}")
    reg.add_model(
        db,
        "20260101-000003",
        folder="20260101-000003",
        cutoff=1,
        data_size=1,
        metrics={"validation": {}},
        state="candidate",
    )
    result = rt.retrain(db_path)
    assert result.model_id is None and "not enough history" in result.reason
    assert sorted(p.name for p in root.iterdir()) == [running.name]
    assert reg.list_models(db) == []


def test_only_a_complete_evaluated_model_can_be_activated(db):
    root = reg.models_root(db)
    for name, manifest, metrics in (
        ("unevaluated", True, {"validation": {}}),
        ("incomplete", False, {"holdout": {"model": 0.2}}),
        ("good", True, {"holdout": {"model": 0.2}}),
    ):
        (root / name).mkdir(parents=True)
        if manifest:
            (root / name / "manifest.json").write_text("{}")
        reg.add_model(db, name, folder=name, cutoff=1, data_size=1, metrics=metrics)
    with pytest.raises(reg.RegistryError, match="never evaluated"):
        reg.activate(db, "unevaluated")
    with pytest.raises(reg.RegistryError, match="incomplete"):
        reg.activate(db, "incomplete")
    reg.activate(db, "good")
    assert reg.active_model(db)["id"] == "good"


def test_one_training_at_a_time(db, db_path):
    fill_store(db, 100)
    with (
        rt._training_lock(reg.models_root(db)),
        pytest.raises(rt.TrainingError, match="already running"),
    ):
        rt.retrain(db_path)
    assert rt.retrain(db_path).model_id is None  # the lock went with its holder


PARENT = """
import os, subprocess, sys, time
from player_plugin.app.retrain import PARENT_ENV
env = {**os.environ, PARENT_ENV: str(os.getpid())}
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, env=env)
for line in proc.stdout:
    if sys.argv[1].encode() in line:
        print(proc.pid, flush=True)
        break
time.sleep(120)
"""

# The trainer stuck where it never looks at the cancel (an export, say), its unfinished
# folder half-written.
STUCK = """
import os, sys, threading
from pathlib import Path
import training.__main__ as trainer
from training import loop

def stuck(*args, **kwargs):
    out = Path(sys.argv[sys.argv.index("--out") + 1])
    unfinished = out.parent / f".{out.name}.tmp-{os.getpid()}"
    unfinished.mkdir()
    (unfinished / "item_tower.onnx").write_bytes(b"half")
    print("stuck", flush=True)
    threading.Event().wait()

loop.train = stuck
trainer.exit_now(trainer.main(sys.argv[1:]))
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def _orphan(cmd: list[str], marker: str, within_s: float) -> tuple[bool, str]:
    """Start *cmd* from a parent that is killed once *cmd* printed *marker*: whether the
    orphan was gone within *within_s*, and what it wrote to stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, marker, *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        trainer = int(parent.stdout.readline())
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + within_s
    while not _gone(trainer) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _gone(trainer):
        os.kill(trainer, signal.SIGKILL)  # not left running after the test
        return False, ""
    return True, parent.stderr.read()  # its end: the orphan's, inherited, closed with it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_trainer_dies_with_its_parent(db, db_path, tmp_path):
    fill_store(db, 700)
    out = tmp_path / "models" / "m1"
    out.parent.mkdir()
    # long enough that it cannot end on its own before its parent is killed
    cmd = rt.trainer_command(db_path, out, extra=["--epochs", "500", "--patience", "500"])
    gone, _ = _orphan(cmd, '"epoch"', 30)
    assert gone, "the orphaned trainer kept running"
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # its export folder went with it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stuck_orphan_ends_itself_and_says_where_it_was(db, db_path, tmp_path):
    fill_store(db, 300)
    out = tmp_path / "models" / "m1"
    out.parent.mkdir()
    cmd = [sys.executable, "-c", STUCK, "--db", str(db_path), "--out", str(out)]
    gone, stderr = _orphan(cmd, "stuck", 20)
    assert gone, "the stuck orphan kept running"
    assert list(out.parent.iterdir()) == []  # its half-written folder removed
    assert "in stuck" in stderr  # every thread's stack, for the log
