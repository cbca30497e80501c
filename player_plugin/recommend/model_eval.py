"""The guarded promotion's figures: which plays are held out, how each method scores on
them, whether a new model may serve, and what its re-ranked lists would have scored along
the familiar ↔ discover dial (for the model report).

:mod:`player_plugin.app.retrain` trains the candidate and calls :func:`compare_on_holdout`
and :func:`decide`; the rule: at least the active model's and the best baseline's NDCG@10
on the newest listened plays, which no compared model was trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from player_plugin.recommend.baselines import baseline_names, make_baseline
from player_plugin.recommend.metrics import ndcg, rank_of
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.recommend.variety import DIAL_POSITIONS

log = logging.getLogger(__name__)

__all__ = [
    "MIN_HOLDOUT",
    "MIN_LISTENS",
    "DialProbe",
    "Interrupted",
    "Stop",
    "compare_on_holdout",
    "compare_others",
    "decide",
    "holdout_ndcg",
    "holdout_start",
]


class Interrupted(Exception):
    """The comparison was cancelled."""


class Stop(Protocol):
    """What a comparison polls between plays: a :class:`threading.Event`, or anything
    that tells whether it was set."""

    def is_set(self) -> bool: ...


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


class DialProbe:
    """The familiar ↔ discover dial measured on the held-out plays: what the re-ranked
    list of the candidate would have scored (NDCG@10) and how many never-played tracks it
    would have held, at each dial position."""

    def __init__(self, catalogue: Any, plays: list, start: int) -> None:
        self.reranker = Reranker(catalogue, RerankSettings()).fit(plays[:start])
        self.ndcg: dict[float, list[float]] = {d: [] for d in DIAL_POSITIONS}
        self.fresh: dict[float, list[float]] = {d: [] for d in DIAL_POSITIONS}

    def score(self, scores: np.ndarray, play: Any) -> None:
        played = self.reranker.played
        for dial in DIAL_POSITIONS:
            ranked = self.reranker.rerank(scores, 10, dial=dial)
            rank = ranked.index(play.item) + 1 if play.item in ranked else 11
            self.ndcg[dial].append(ndcg(rank))
            self.fresh[dial].append(float(np.mean(~played[ranked])) if ranked else 0.0)

    def observe(self, play: Any) -> None:
        self.reranker.observe(play)

    def curve(self) -> list[dict[str, float]]:
        """One point per dial position: {"dial", "ndcg@10", "new_share"}."""
        return [
            {
                "dial": dial,
                "ndcg@10": round(float(np.mean(self.ndcg[dial])), 6) if self.ndcg[dial] else 0.0,
                "new_share": round(float(np.mean(self.fresh[dial])), 4)
                if self.fresh[dial]
                else 0.0,
            }
            for dial in DIAL_POSITIONS
        ]


def holdout_ndcg(
    rec: Any,
    plays: list,
    catalogue: Any,
    start: int,
    cancel: Stop | None = None,
    probe: DialProbe | None = None,
) -> list[float]:
    """NDCG@10 (ties count against) of each listened play from *start* on, the method
    fitted on the plays before it and observing each one after it is scored (and with a
    *probe*, its re-ranked lists along the dial). Raises :class:`Interrupted` when *cancel*
    is set."""
    rec.fit(plays[:start], catalogue)
    out = []
    for play in plays[start:]:
        if cancel is not None and cancel.is_set():
            raise Interrupted
        if play.listened:
            scores = rec.scores()
            out.append(ndcg(rank_of(scores, play.item)))
            if probe is not None:
                probe.score(scores, play)
        rec.observe(play)
        if probe is not None:
            probe.observe(play)
    return out


def compare_others(
    active: Any,
    plays: list,
    catalogue: Any,
    start: int,
    cancel: Stop | None = None,
) -> dict:
    """What a candidate is compared with, which does not depend on it (measured while it
    trains): NDCG@10 on the held-out plays of the active model (when given) and of every
    baseline (diagnostics aside). Returns {"active", "baselines": {...}, "best_baseline"
    (when any)}."""
    result: dict = {"baselines": {}}
    result["active"] = (
        _mean(holdout_ndcg(active, plays, catalogue, start, cancel)) if active else None
    )
    for name in baseline_names():
        if name in DIAGNOSTICS:
            continue
        try:
            result["baselines"][name] = _mean(
                holdout_ndcg(make_baseline(name), plays, catalogue, start, cancel)
            )
        except Interrupted:
            raise
        except Exception as exc:  # one broken baseline must not stop a retrain
            log.warning("baseline %s left out of the comparison: %s", name, exc)
    if result["baselines"]:
        result["best_baseline"] = max(result["baselines"], key=result["baselines"].get)
    return result


def compare_on_holdout(
    candidate: Any,
    active: Any,
    plays: list,
    catalogue: Any,
    start: int,
    cancel: Stop | None = None,
    *,
    others: Callable[[], dict] | None = None,
) -> dict:
    """NDCG@10 on the held-out plays of the candidate, the active model (when given) and
    every baseline (diagnostics aside), and the candidate's re-ranked lists along the
    familiar ↔ discover dial. Returns {"model", "active", "baselines": {...},
    "best_baseline", "plays", "dial": [{"dial", "ndcg@10", "new_share"}, ...]}. *others*,
    when given, is asked for :func:`compare_others`' figures once the candidate's are in
    (they may be measured meanwhile on another thread)."""
    probe = DialProbe(catalogue, plays, start)
    scores = holdout_ndcg(candidate, plays, catalogue, start, cancel, probe)
    figures = (
        compare_others(active, plays, catalogue, start, cancel) if others is None else others()
    )
    return {"plays": len(scores), "model": _mean(scores), "dial": probe.curve(), **figures}


def _mean(xs: list[float]) -> float:
    return round(float(sum(xs) / len(xs)), 6) if xs else 0.0


def decide(comparison: dict) -> tuple[bool, str]:
    """Promote only if the candidate is at least as good as the active model and the best
    baseline on the held-out plays; the reason says which figure decided."""
    model = comparison["model"]
    n = comparison["plays"]
    active = comparison.get("active")
    best = comparison.get("best_baseline")
    if active is not None and model < active:
        return False, (
            f"NDCG@10 {model:.4f} on your {n:,} newest plays is below the active model's "
            f"{active:.4f}"
        )
    if best is not None and model < comparison["baselines"][best]:
        return False, (
            f"NDCG@10 {model:.4f} on your {n:,} newest plays is below the "
            f"{best} baseline's {comparison['baselines'][best]:.4f}"
        )
    versus = [f"the active model's {active:.4f}"] if active is not None else []
    if best is not None:
        versus.append(f"{best}'s {comparison['baselines'][best]:.4f}")
    return True, f"NDCG@10 {model:.4f} on your {n:,} newest plays, at least " + (
        " and ".join(versus) or "nothing to compare"
    )
