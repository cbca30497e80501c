"""What the model report shows, read from the registry without Qt: the active model, the
methods it was compared with on held-out plays, its training curve (recorded once in its
registry row by :mod:`player_plugin.app.retrain`), the model history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from player_plugin.store.models import active_model, list_models, model_curve

METRIC_ORDER = ("hr@1", "hr@10", "ndcg@10", "mrr", "hr@50", "coverage")


@dataclass
class ReportData:
    active: dict | None
    models: list[dict]
    methods: dict[str, dict[str, float]] = field(default_factory=dict)
    metric_names: list[str] = field(default_factory=list)
    curve: list[dict] = field(default_factory=list)
    headline: str = ""
    serving_method: str = ""
    dial: list[dict] = field(default_factory=list)  # the holdout along the dial (model_eval)

    @property
    def can_roll_back(self) -> bool:
        return self.active is not None and any(m["state"] == "retired" for m in self.models)


def _is_metrics(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in METRIC_ORDER)


def _flatten(value: Any) -> dict[str, float] | None:
    """A method's figures: ``{"all": M, "new": M}`` (evaluate style) gives ``M``."""
    if isinstance(value, dict) and _is_metrics(value.get("all")):
        value = value["all"]
    if not _is_metrics(value):
        return None
    return {k: float(v) for k, v in value.items() if isinstance(v, int | float)}


def holdout_methods(holdout: Any) -> dict[str, dict[str, float]]:
    """``segue train``'s comparison — ``{"model": ndcg, "active": ndcg|None, "baselines":
    {name: ndcg}}`` on the newest plays — as method → ``{"ndcg@10": value}``."""
    if not isinstance(holdout, dict) or not isinstance(holdout.get("model"), int | float):
        return {}
    out = {"model": {"ndcg@10": float(holdout["model"])}}
    if isinstance(holdout.get("active"), int | float):
        out["model (previous)"] = {"ndcg@10": float(holdout["active"])}
    for name, value in (holdout.get("baselines") or {}).items():
        if isinstance(value, int | float):
            out[str(name)] = {"ndcg@10": float(value)}
    return out


def find_methods(metrics: Any, depth: int = 0) -> dict[str, dict[str, float]]:
    """The first mapping method name → figures found in a model's metrics (any nesting)."""
    if not isinstance(metrics, dict) or depth > 4:
        return {}
    if depth == 0 and (found := holdout_methods(metrics.get("holdout"))):
        return found
    found = {name: flat for name, v in metrics.items() if (flat := _flatten(v)) is not None}
    if len(found) >= 2:
        return found
    for value in metrics.values():
        nested = find_methods(value, depth + 1)
        if nested:
            return nested
    return found


def load_report(db: sqlite_utils.Database) -> ReportData:
    models = list_models(db)
    active = active_model(db)
    data = ReportData(active=active, models=models)
    # The serving model's figures; without one, the newest model's (why it was rejected).
    subject = active or (models[0] if models else None)
    if subject is None:
        return data
    metrics = subject.get("metrics") or {}
    if isinstance(metrics, str):
        try:
            metrics = json.loads(metrics)
        except ValueError:
            metrics = {}
    methods = find_methods(metrics)
    names = [m for m in METRIC_ORDER if any(m in v for v in methods.values())][:4]
    first = names[0] if names else ""

    def rank(kv: tuple[str, dict]) -> tuple:
        return (not kv[0].startswith("model"), kv[0] != "model", -kv[1].get(first, 0.0))

    ordered = dict(sorted(methods.items(), key=rank))  # the model, its predecessor, the best
    data.methods, data.metric_names = ordered, names
    data.curve = model_curve(subject)
    holdout_found = metrics.get("holdout")
    if isinstance(holdout_found, dict) and isinstance(holdout_found.get("dial"), list):
        data.dial = [p for p in holdout_found["dial"] if isinstance(p, dict) and "dial" in p]
    model_keys = [k for k in ordered if k.startswith("model")]
    baselines = {k: v for k, v in ordered.items() if not k.startswith("model")}
    if model_keys and baselines and names:
        metric = "ndcg@10" if "ndcg@10" in names else names[0]
        mine = ordered[model_keys[0]].get(metric, 0.0)
        best_name, best = max(
            ((k, v.get(metric, 0.0)) for k, v in baselines.items()), key=lambda kv: kv[1]
        )
        verdict = "beats" if mine > best else "does not beat"
        found = metrics.get("holdout")
        holdout = found if isinstance(found, dict) else {}
        where = (
            f"your {holdout['plays']:,} newest plays" if holdout.get("plays") else "held-out plays"
        )
        who = "the model" if subject is active else f"the newest model, {subject['id']},"
        data.headline = (
            f"On {where} (not used in training) {who} {verdict} the best baseline "
            f"({best_name}): {metric.upper()} {mine:.3f} vs {best:.3f}."
        )
    return data
