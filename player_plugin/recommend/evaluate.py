"""Offline evaluation's protocol (DESIGN.md, Evaluation): the model and the baselines on a
play log. :mod:`player_plugin.app.evaluate` builds the stores and trains; this module splits
and scores.

Per listener (a temporary store built from the history): a chronological split (the first
80% of plays train, the last 20% test), and for each next *listened* test play, every method
ranks the listener's whole catalogue from exactly the plays before it. Count-based baselines
keep observing the test plays; learned models are trained on the first 80% only and held
fixed (their inputs — the session — stay live). Raw rankers are scored; re-ranked output is
its own row (``NAME-reranked``).

Training draws at random (initial weights, negatives, batches), and on these histories two
seeds of the same model differ by more than some of the effects measured. With
``seeds`` > 1 each model variant is also trained with the seeds after the default
(``NAME@seedS`` rows) and ``NAME-seeds`` averages each target's figures over all of them:
the comparison of two training methods (skip-aware or blind) then measures the methods,
not the luck of one draw. ``NAME`` stays the default seed's model, the one the player
would serve.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend.base import Recommender
from player_plugin.recommend.metrics import (
    ListenerLog,
    MethodLog,
    Summary,
    own_variety,
    rank_of,
    top_items,
)
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.recommend.variety import DIAL_POSITIONS, MIDDLE

log = logging.getLogger(__name__)

TEST_SHARE = 0.2
RECENT = 10  # "just played" for the repeat rate: the last 10 plays
RERANK_DEPTH = 50  # re-ranked rows rank this deep (HR@50); anything below is a miss
MIN_PLAYS = 20  # listeners with fewer plays are left out
SEED = 42  # the trainer's default seed (training.model.Config.seed)


@dataclass
class EvalOptions:
    methods: list[str] | None = None  # baselines to run; None = every available one
    model: bool = True  # train and score the learned model too
    reranked: tuple[str, ...] = ("session-knn", "model")  # rows NAME-reranked, when run
    distractors: list = field(default_factory=list)  # HistoryPlay records
    max_listeners: int | None = None
    bootstrap: int = 1000
    validation: bool = False  # evaluate inside the first 80% only (for tuning)
    seeds: int = 1  # > 1: each model variant also trained with seeds SEED+1... (NAME-seeds)
    dial: bool = False  # also re-rank at every dial position (NAME-reranked@dialD rows)
    progress: Callable[[str], None] | None = None


def split_index(plays: Sequence[Play], share: float = TEST_SHARE) -> int:
    """The first test play: 80% of plays before it, never splitting one timestamp."""
    split = round(len(plays) * (1.0 - share))
    split = min(max(split, 1), len(plays))
    while 0 < split < len(plays) and plays[split - 1].started_at == plays[split].started_at:
        split -= 1
    return split


def run_protocol(
    plays: Sequence[Play],
    catalogue: Catalogue,
    split: int,
    recommenders: dict[str, Recommender],
    reranked: Sequence[str] = (),
    *,
    fitted: Sequence[str] = (),
    dials: Sequence[float] = (),
    dials_of: Mapping[str, Sequence[float]] | None = None,
) -> ListenerLog:
    """Predict every listened play from *split* on; every method sees exactly the plays
    before it. Names in *fitted* are already fitted (learned models). Each name in
    *reranked* also gets a ``NAME-reranked`` row (the default dial) and one row per dial
    position in *dials* (``NAME-reranked@dialD``; *dials_of* gives some names their own
    positions); the listener's own variety of their real next plays is recorded beside
    (``ListenerLog.own``)."""
    train = list(plays[:split])
    for name, rec in recommenders.items():
        if name not in fitted:
            rec.fit(train, catalogue)
    rerankers = {
        name: Reranker(catalogue, RerankSettings()).fit(train)
        for name in reranked
        if name in recommenders
    }
    logs = ListenerLog(catalogue_size=len(catalogue))
    for name in recommenders:
        logs.methods[name] = MethodLog()
    rows: dict[str, dict[float | None, str]] = {
        name: {None: f"{name}-reranked"} for name in rerankers
    }
    for name in rerankers:
        positions = (dials_of or {}).get(name, dials)
        rows[name].update({d: dial_row(name, d) for d in positions})
        for row in rows[name].values():
            logs.methods[row] = MethodLog()
    targets: list[int] = []
    recents: list[list[int]] = []
    played = np.zeros(len(catalogue), dtype=bool)
    for play in train:
        played[play.item] = True
    recent: deque[int] = deque((p.item for p in train[-RECENT:]), maxlen=RECENT)
    artist = catalogue.artist
    for play in plays[split:]:
        if play.listened:
            logs.sessions.append(play.session)
            logs.new.append(not played[play.item])
            targets.append(play.item)
            recents.append(list(recent))
            for name, rec in recommenders.items():
                scores = rec.scores()
                top = top_items(scores)
                logs.methods[name].add_rank(rank_of(scores, play.item), top, artist, recent, played)
                reranker = rerankers.get(name)
                for dial, row in rows.get(name, {}).items():
                    assert reranker is not None
                    ranked = reranker.rerank(scores, RERANK_DEPTH, dial=dial)
                    position = (
                        ranked.index(play.item) + 1 if play.item in ranked else len(catalogue)
                    )
                    logs.methods[row].add_rank(
                        position, np.asarray(ranked[:10]), artist, recent, played
                    )
        for rec in recommenders.values():
            rec.observe(play)
        for reranker in rerankers.values():
            reranker.observe(play)
        played[play.item] = True
        recent.append(play.item)
    logs.own = own_variety(targets, recents, artist)
    return logs


def dial_row(name: str, dial: float) -> str:
    """The row of *name* re-ranked at one dial position, e.g. ``model-reranked@dial0.25``."""
    return f"{name}-reranked@dial{dial:.2f}"


def seeded_names(variant: str, seeds: int) -> list[tuple[str, int]]:
    """(row name, trainer seed) of each training of *variant*: the default seed first."""
    return [(variant if k == 0 else f"{variant}@seed{SEED + k}", SEED + k) for k in range(seeds)]


def average_logs(logs: Sequence[MethodLog]) -> MethodLog:
    """Each prediction's figures averaged over *logs* (one method, several trainings); the
    top lists (for coverage) are the first's."""
    out = MethodLog(tops=list(logs[0].tops))
    for metric in out.values:
        out.values[metric] = np.mean([log_.values[metric] for log_ in logs], axis=0).tolist()
    return out


@dataclass
class ListenerResult:
    listener: str | None
    plays: int
    catalogue: int
    distractors: int
    log: ListenerLog
    seconds: float


DIAGNOSTICS = ("random-unplayed", "unplayed-same-artist")


def _baselines(summary: Summary) -> list[str]:
    """Rankers that are neither a model, a diagnostic nor a re-ranked row."""
    return [
        name
        for name in summary.point
        if not name.startswith("model") and name not in DIAGNOSTICS and "-reranked" not in name
    ]


def _by_ndcg(summary: Summary, names: list[str], subset: str) -> list[str]:
    scored = [
        (summary.point[name][subset]["ndcg@10"], name)
        for name in names
        if np.isfinite(summary.point[name][subset]["ndcg@10"])
    ]
    return [name for _, name in sorted(scored, reverse=True)]


def best_baseline(summary: Summary, subset: str = "all") -> str | None:
    """The baseline (not a diagnostic, not re-ranked, not a model) with the best NDCG@10."""
    ranked = _by_ndcg(summary, _baselines(summary), subset)
    return ranked[0] if ranked else None


def comparisons(summary: Summary) -> list[dict]:
    """Paired bootstraps on all and on new plays: the model against the best baseline, the
    same model blind to skips (when the history has skips) and, on new plays, the "new"
    leak; the seed averages (``--seeds``) the same way; without a model, the best baseline
    against the runner-up. With the dial (``--dial``), the model at its discover end (its
    ranking of never-played tracks only; averaged over the seeds too) against the leak, on
    new plays."""
    out = []
    for subset in ("all", "new"):
        ranked = _by_ndcg(summary, _baselines(summary), subset)
        if not ranked:
            continue
        if "model" not in summary.point:
            if len(ranked) > 1:
                out.append(summary.compare(ranked[0], ranked[1], subset))
            continue
        for model, metrics in (
            ("model", ("ndcg@10", "hr@10", "mrr")),
            ("model-seeds", ("ndcg@10",)),
        ):
            if model not in summary.point:
                continue
            for metric in metrics:
                out.append(summary.compare(model, ranked[0], subset, metric))
            if subset == "new" and "unplayed-same-artist" in summary.point:
                out.append(summary.compare(model, "unplayed-same-artist", "new"))
            blind = model.replace("model", "model-skip-blind", 1)
            if blind in summary.point:  # does knowing the skips help?
                out.append(summary.compare(model, blind, subset))
    for model in ("model", "model-seeds"):  # its first plays, ranked among unplayed ones
        discover = dial_row(model, 1.0)
        if discover in summary.point and "unplayed-same-artist" in summary.point:
            out.append(summary.compare(discover, "unplayed-same-artist", "new"))
    return out


OWN = ("artist_diversity", "repeat_rate")


def listener_variety(logs: Sequence[ListenerLog]) -> dict[str, float | list[float]]:
    """The listeners' own variety (their real next plays measured as a list): the mean of
    the per-listener means, and the 10th–90th percentile of every prediction's window —
    the range a re-ranked list should stay in."""
    out: dict[str, float | list[float]] = {}
    for metric in OWN:
        runs = [np.asarray(log_.own[metric]) for log_ in logs if log_.own.get(metric)]
        if not runs:
            continue
        pooled = np.concatenate(runs)
        out[metric] = round(float(np.mean([r.mean() for r in runs])), 5)
        out[f"{metric}_range"] = [round(float(q), 5) for q in np.percentile(pooled, [10, 90])]
    return out


def dial_curve(methods: dict) -> dict[str, list[dict]]:
    """For each re-ranked method with dial rows: NDCG@10 (all, new), the share of
    never-played tracks, artist diversity and repeat rate at each dial position (the
    middle is the default ``NAME-reranked`` row)."""
    curves: dict[str, list[dict]] = {}
    for name in methods:
        if (
            not name.endswith("-reranked")
            or dial_row(name[: -len("-reranked")], 0.0) not in methods
        ):
            continue
        base = name[: -len("-reranked")]
        points = []
        for dial in DIAL_POSITIONS:
            row = name if dial == MIDDLE else dial_row(base, dial)
            if row not in methods:
                continue
            a, n = methods[row]["all"], methods[row]["new"]
            points.append(
                {
                    "dial": dial,
                    "ndcg@10": a["ndcg@10"],
                    "ndcg@10_new": n["ndcg@10"],
                    "new_share": a["new_share"],
                    "artist_diversity": a["artist_diversity"],
                    "repeat_rate": a["repeat_rate"],
                }
            )
        curves[base] = points
    return curves


def kept(methods: dict) -> dict[str, dict[str, float]]:
    """How much of each raw ranker's NDCG@10 its re-ranked list keeps (all, new)."""
    out = {}
    for name in methods:
        row = f"{name}-reranked"
        if row not in methods:
            continue
        out[name] = {
            subset: round(methods[row][subset]["ndcg@10"] / methods[name][subset]["ndcg@10"], 4)
            for subset in ("all", "new")
            if methods[name][subset]["ndcg@10"]
        }
    return out


def to_json(
    results: Sequence[ListenerResult], summary: Summary, *, seconds: float, options: EvalOptions
) -> dict:
    methods = {
        name: {subset: summary.figures(name, subset) for subset in ("all", "new")}
        for name in summary.point
    }
    per_listener = []
    for result, figures in zip(results, summary.per_listener, strict=True):
        per_listener.append(
            {
                "listener": result.listener,
                "plays": result.plays,
                "test_plays": len(result.log.sessions),
                "new_plays": int(sum(result.log.new)),
                "catalogue": result.catalogue,
                "never_played": result.distractors,
                "seconds": round(result.seconds, 2),
                "methods": {
                    name: {
                        subset: {k: (round(v, 5) if np.isfinite(v) else None) for k, v in m.items()}
                        for subset, m in subsets.items()
                    }
                    for name, subsets in figures.items()
                },
            }
        )
    return {
        "plays": sum(r.plays for r in results),
        "test_plays": sum(len(r.log.sessions) for r in results),
        "new_plays": sum(int(sum(r.log.new)) for r in results),
        "listeners": len(results),
        "methods": methods,
        "best_baseline": {
            "all": best_baseline(summary, "all"),
            "new": best_baseline(summary, "new"),
        },
        "comparisons": comparisons(summary),
        "reranked_kept": kept(methods),
        "listener_variety": listener_variety([r.log for r in results]),
        "dial": dial_curve(methods),
        "protocol": {
            "test_share": TEST_SHARE,
            "validation": options.validation,
            "distractor_plays": len(options.distractors),
            "bootstrap": options.bootstrap,
            "rerank_depth": RERANK_DEPTH,
            "seeds": [seed for _, seed in seeded_names("model", options.seeds)],
            "dial": list(DIAL_POSITIONS) if options.dial else None,
        },
        "per_listener": per_listener,
        "seconds": round(seconds, 2),
    }
