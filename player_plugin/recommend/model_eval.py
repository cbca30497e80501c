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

from player_plugin.domain.errors import SegueError
from player_plugin.recommend.engine import Engine
from player_plugin.recommend.model import ModelRecommender

log = logging.getLogger(__name__)

__all__ = ["TrainingError", "fit_model", "run_trainer"]


class TrainingError(SegueError):
    """The trainer failed or was cancelled; the message says why."""


def trainer_command(
    db_path: str | os.PathLike,
    out: Path,
    *,
    until_ms: int | None = None,
    skip_blind: bool = False,
    extra: list[str] | None = None,
) -> list[str]:
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
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
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


def fit_model(
    db_path: str | os.PathLike,
    cutoff_ms: int | None,
    *,
    skip_blind: bool = False,
    extra: list[str] | None = None,
) -> ModelRecommender:
    """Train on the plays of *db_path* before *cutoff_ms* and return the served model
    (call its ``fit(plays, catalogue)`` with the history before the split)."""
    with tempfile.TemporaryDirectory(prefix="segue-eval-") as tmp:
        out = Path(tmp) / "model"
        run_trainer(
            trainer_command(db_path, out, until_ms=cutoff_ms, skip_blind=skip_blind, extra=extra)
        )
        engine = Engine(out)  # the ONNX files are read into memory here
    rec = ModelRecommender(engine)
    rec.name = "model-skip-blind" if skip_blind else "model"
    return rec


# -- guarded promotion ---------------------------------------------------------------------

MIN_LISTENS = 500  # "enough history": below this the baselines serve and nothing trains
MIN_HOLDOUT = 30  # listened plays newer than every compared model's cutoff
HOLDOUT_SHARE = 0.1
MAX_HOLDOUT = 2000
DIAGNOSTICS = ("random-unplayed", "unplayed-same-artist")


def holdout_start(plays: list, *, share: float = HOLDOUT_SHARE) -> int | None:
    """Index of the first held-out play: the newest *share* of listened plays (at least
    MIN_HOLDOUT, at most MAX_HOLDOUT), never splitting one timestamp; None when the
    history is too short."""
    listened = [i for i, p in enumerate(plays) if p.listened]
    if len(listened) < MIN_LISTENS:
        return None
    k = min(max(int(len(listened) * share), MIN_HOLDOUT), MAX_HOLDOUT)
    start = listened[-k]
    while start > 0 and plays[start - 1].started_at == plays[start].started_at:
        start -= 1
    return start


def holdout_ndcg(rec, plays: list, catalogue, start: int) -> list[float]:
    """NDCG@10 (ties count against) of each listened play from *start* on, the method
    fitted on the plays before it and observing each one after it is scored."""
    from player_plugin.recommend.metrics import ndcg, rank_of

    rec.fit(plays[:start], catalogue)
    out = []
    for play in plays[start:]:
        if play.listened:
            out.append(ndcg(rank_of(rec.scores(), play.item)))
        rec.observe(play)
    return out


def compare_on_holdout(candidate, active, plays: list, catalogue, start: int) -> dict:
    """NDCG@10 on the held-out plays of the candidate, the active model (when given) and
    every baseline (diagnostics aside). Returns {"model", "active", "baselines": {...},
    "best_baseline", "plays"}."""
    from player_plugin.recommend.baselines import baseline_names, make_baseline

    def mean(xs: list[float]) -> float:
        return round(float(sum(xs) / len(xs)), 6) if xs else 0.0

    result: dict = {"plays": 0, "baselines": {}}
    scores = holdout_ndcg(candidate, plays, catalogue, start)
    result["plays"] = len(scores)
    result["model"] = mean(scores)
    result["active"] = mean(holdout_ndcg(active, plays, catalogue, start)) if active else None
    for name in baseline_names():
        if name in DIAGNOSTICS:
            continue
        try:
            result["baselines"][name] = mean(
                holdout_ndcg(make_baseline(name), plays, catalogue, start)
            )
        except Exception as exc:  # one broken baseline must not stop a retrain
            log.warning("baseline %s left out of the comparison: %s", name, exc)
    if result["baselines"]:
        result["best_baseline"] = max(result["baselines"], key=result["baselines"].get)
    return result


def decide(comparison: dict) -> tuple[bool, str]:
    """Promote only if the candidate is at least as good as the active model and the best
    baseline on the held-out plays; the reason says which figure decided."""
    model = comparison["model"]
    n = comparison["plays"]
    active = comparison.get("active")
    best = comparison.get("best_baseline")
    if active is not None and model < active:
        return False, (
            f"NDCG@10 {model:.4f} on your {n} newest plays is below the active model's {active:.4f}"
        )
    if best is not None and model < comparison["baselines"][best]:
        return False, (
            f"NDCG@10 {model:.4f} on your {n} newest plays is below the "
            f"{best} baseline's {comparison['baselines'][best]:.4f}"
        )
    versus = [f"the active model's {active:.4f}"] if active is not None else []
    if best is not None:
        versus.append(f"{best}'s {comparison['baselines'][best]:.4f}")
    return True, f"NDCG@10 {model:.4f} on your {n} newest plays, at least " + (
        " and ".join(versus) or "nothing to compare"
    )
