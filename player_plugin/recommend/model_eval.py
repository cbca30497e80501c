"""Training a model for offline evaluation: the trainer in a subprocess, served by the engine.

``segue evaluate`` calls :func:`fit_model` on its temporary store: the trainer sees only
plays before the split (vocabularies and ID embeddings included), and what is scored is
exactly what serving runs — the exported ONNX through :class:`Engine` in a
:class:`ModelRecommender` — never a separate PyTorch path.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from player_plugin.recommend.engine import Engine
from player_plugin.recommend.model import ModelRecommender

log = logging.getLogger(__name__)

__all__ = ["TrainingError", "fit_model", "run_trainer"]


class TrainingError(Exception):
    """The trainer failed or was cancelled; the message says why."""


def trainer_command(db_path: str | os.PathLike, out: Path, *, until_ms: int | None = None,
                    skip_blind: bool = False, extra: list[str] | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "training", "--db", str(db_path), "--out", str(out)]
    if until_ms is not None:
        cmd += ["--until", str(int(until_ms))]
    if skip_blind:
        cmd.append("--skip-blind")
    return cmd + list(extra or [])


def run_trainer(cmd: list[str], *, on_event: Callable[[dict], None] | None = None) -> dict:
    """Run the trainer, passing each JSON progress line to *on_event*; returns the final
    ``done`` event or raises :class:`TrainingError`."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    last: dict = {}
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                log.info("trainer: %s", line.rstrip())
                continue
            last = event
            log.info("trainer: %s", line.rstrip())
            if on_event is not None:
                on_event(event)
        err = proc.stderr.read() if proc.stderr else ""
        status = proc.wait()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    if status != 0 or last.get("event") != "done":
        why = last.get("message") or last.get("event") or (err.strip().splitlines() or ["?"])[-1]
        raise TrainingError(f"training failed: {why}")
    return last


def fit_model(db_path: str | os.PathLike, cutoff_ms: int | None, *, skip_blind: bool = False,
              extra: list[str] | None = None) -> ModelRecommender:
    """Train on the plays of *db_path* before *cutoff_ms* and return the served model
    (call its ``fit(plays, catalogue)`` with the history before the split)."""
    with tempfile.TemporaryDirectory(prefix="segue-eval-") as tmp:
        out = Path(tmp) / "model"
        run_trainer(trainer_command(db_path, out, until_ms=cutoff_ms, skip_blind=skip_blind,
                                    extra=extra))
        engine = Engine(out)  # the ONNX files are read into memory here
    rec = ModelRecommender(engine)
    rec.name = "model-skip-blind" if skip_blind else "model"
    return rec
