"""The guarded promotion's figures: which plays are held out, how each method scores on
them, and whether a new model may serve.

:mod:`player_plugin.app.retrain` trains the candidate and calls :func:`compare_on_holdout`
and :func:`decide`; the rule: at least the active model's and the best baseline's NDCG@10
on the newest listened plays, which no compared model was trained on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from player_plugin.recommend.baselines import baseline_names, make_baseline
from player_plugin.recommend.metrics import ndcg, rank_of

log = logging.getLogger(__name__)

__all__ = [
    "MIN_HOLDOUT",
    "MIN_LISTENS",
    "Interrupted",
    "compare_on_holdout",
    "decide",
    "holdout_ndcg",
    "holdout_start",
]


class Interrupted(Exception):
    """The comparison was cancelled."""


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


def holdout_ndcg(
    rec: Any, plays: list, catalogue: Any, start: int, cancel: threading.Event | None = None
) -> list[float]:
    """NDCG@10 (ties count against) of each listened play from *start* on, the method
    fitted on the plays before it and observing each one after it is scored. Raises
    :class:`Interrupted` when *cancel* is set."""
    rec.fit(plays[:start], catalogue)
    out = []
    for play in plays[start:]:
        if cancel is not None and cancel.is_set():
            raise Interrupted
        if play.listened:
            out.append(ndcg(rank_of(rec.scores(), play.item)))
        rec.observe(play)
    return out


def compare_on_holdout(
    candidate: Any,
    active: Any,
    plays: list,
    catalogue: Any,
    start: int,
    cancel: threading.Event | None = None,
) -> dict:
    """NDCG@10 on the held-out plays of the candidate, the active model (when given) and
    every baseline (diagnostics aside). Returns {"model", "active", "baselines": {...},
    "best_baseline", "plays"}."""

    def mean(xs: list[float]) -> float:
        return round(float(sum(xs) / len(xs)), 6) if xs else 0.0

    result: dict = {"plays": 0, "baselines": {}}
    scores = holdout_ndcg(candidate, plays, catalogue, start, cancel)
    result["plays"] = len(scores)
    result["model"] = mean(scores)
    result["active"] = (
        mean(holdout_ndcg(active, plays, catalogue, start, cancel)) if active else None
    )
    for name in baseline_names():
        if name in DIAGNOSTICS:
            continue
        try:
            result["baselines"][name] = mean(
                holdout_ndcg(make_baseline(name), plays, catalogue, start, cancel)
            )
        except Interrupted:
            raise
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
