"""Ranking metrics and bootstrap intervals: one module for baselines and the model alike.

Rank = 1 + the number of *other* items scoring at least as high as the target (ties count
against the method); a NaN score counts as the lowest possible, so NaN never ranks first.
HR@k = rank <= k; NDCG@k = 1 / log2(rank + 1) within k (one relevant item); MRR = 1 / rank.
Per prediction we also keep the artist diversity of the top 10 (distinct artists / 10), the
repeat rate (the share of the top 10 among the last 10 plays) and the new share (the share
of the top 10 never played before); coverage is the share of
the catalogue that appears in any top 10 (its resamples are centred on the point value, as
a union over resampled sessions is biased low). Intervals: a bootstrap over sessions (resampling
whole sessions, so correlated plays stay together); "beats" means the paired bootstrap
interval of a difference lies above zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

METRICS = (
    "hr@1",
    "hr@10",
    "hr@50",
    "ndcg@10",
    "mrr",
    "coverage",
    "artist_diversity",
    "repeat_rate",
    "new_share",
)
PER_PREDICTION = (
    "hr@1",
    "hr@10",
    "hr@50",
    "ndcg@10",
    "mrr",
    "artist_diversity",
    "repeat_rate",
    "new_share",
)
TOP = 10
BOOTSTRAP = 1000
COVERAGE_BOOTSTRAP = 200  # coverage needs a union per resample: fewer resamples suffice


def clean(scores: np.ndarray) -> np.ndarray:
    """float64 scores with NaN as -inf."""
    out = np.asarray(scores, dtype=np.float64)
    return np.where(np.isnan(out), -np.inf, out)


def rank_of(scores: np.ndarray, target: int) -> int:
    """1 + the number of other items scoring at least as high as *target* (ties count
    against); a NaN target ranks last."""
    s = clean(scores)
    return int(np.count_nonzero(s >= s[target]))  # counts the target itself: the "1 +"


def top_items(scores: np.ndarray, k: int = TOP) -> np.ndarray:
    """The *k* best items, best first (ties by index); NaN and -inf never before a number."""
    s = clean(scores)
    k = min(k, len(s))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-s, k - 1)[:k]
    return top[np.lexsort((top, -s[top]))]


def hit(rank: int, k: int) -> float:
    return 1.0 if rank <= k else 0.0


def ndcg(rank: int, k: int = 10) -> float:
    return float(1.0 / np.log2(rank + 1)) if rank <= k else 0.0


def reciprocal_rank(rank: int) -> float:
    return 1.0 / rank


def artist_diversity(top: Sequence[int] | np.ndarray, artist: np.ndarray) -> float:
    """Distinct artists among the top items / their number (unknown artists count apart)."""
    if len(top) == 0:
        return 0.0
    names = [int(artist[i]) or -1 - int(i) for i in top]
    return len(set(names)) / len(names)


def repeat_rate(top: Sequence[int] | np.ndarray, recent: Sequence[int]) -> float:
    """The share of the top items that were among the *recent* plays."""
    if len(top) == 0:
        return 0.0
    recent_set = set(recent)
    return sum(1 for i in top if int(i) in recent_set) / len(top)


def new_share(top: Sequence[int] | np.ndarray, played: np.ndarray | None) -> float:
    """The share of the top items never played before (NaN when that is not known)."""
    if played is None or len(top) == 0:
        return float("nan")
    return float(np.mean(~played[np.asarray(top, dtype=np.int64)]))


def own_variety(
    targets: Sequence[int], recents: Sequence[Sequence[int]], artist: np.ndarray
) -> dict[str, list[float]]:
    """The listener's own figures, for each prediction: the artist diversity and repeat
    rate of their real next TOP listens, as if those were the list a method gave then
    (against the same *recents*). The last predictions' windows are shorter."""
    out: dict[str, list[float]] = {"artist_diversity": [], "repeat_rate": []}
    for k, recent in enumerate(recents):
        window = targets[k : k + TOP]
        out["artist_diversity"].append(artist_diversity(window, artist))
        out["repeat_rate"].append(repeat_rate(window, recent))
    return out


@dataclass
class MethodLog:
    """Per-prediction figures of one method on one listener."""

    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in PER_PREDICTION})
    tops: list[np.ndarray] = field(default_factory=list)

    def add_rank(
        self,
        rank: int,
        top: np.ndarray,
        artist: np.ndarray,
        recent: Sequence[int],
        played: np.ndarray | None = None,
    ) -> None:
        """One prediction: the target's *rank* and the *top* list (with the catalogue's
        *artist* codes, the *recent* plays and, when known, which items were *played*)."""
        v = self.values
        v["hr@1"].append(hit(rank, 1))
        v["hr@10"].append(hit(rank, 10))
        v["hr@50"].append(hit(rank, 50))
        v["ndcg@10"].append(ndcg(rank, 10))
        v["mrr"].append(reciprocal_rank(rank))
        v["artist_diversity"].append(artist_diversity(top, artist))
        v["repeat_rate"].append(repeat_rate(top, recent))
        v["new_share"].append(new_share(top, played))
        self.tops.append(np.asarray(top, dtype=np.int64)[:TOP])


@dataclass
class ListenerLog:
    """Everything one listener's evaluation recorded, ready for :func:`resample`."""

    catalogue_size: int
    sessions: list[int] = field(default_factory=list)  # session of each prediction
    new: list[bool] = field(default_factory=list)
    methods: dict[str, MethodLog] = field(default_factory=dict)
    own: dict[str, list[float]] = field(default_factory=dict)  # see own_variety


def session_weights(sessions: Sequence[int], n: int, seed: int = 0) -> np.ndarray:
    """(n, S) how often each session is drawn in each bootstrap resample."""
    _, codes = np.unique(np.asarray(sessions), return_inverse=True)
    count = int(codes.max()) + 1 if len(codes) else 0
    rng = np.random.default_rng(seed)
    if count == 0:
        return np.zeros((n, 0))
    return rng.multinomial(count, np.full(count, 1.0 / count), size=n).astype(np.float64)


def _subset_figures(
    log: MethodLog, codes: np.ndarray, mask: np.ndarray, weights: np.ndarray, size: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Point figures and (bootstrap,) resampled figures for the predictions in *mask*."""
    n_sessions = weights.shape[1]
    point: dict[str, float] = {}
    boot: dict[str, np.ndarray] = {}
    counts = np.bincount(codes[mask], minlength=n_sessions).astype(np.float64)
    total = weights @ counts
    with np.errstate(invalid="ignore", divide="ignore"):
        for metric in PER_PREDICTION:
            values = np.asarray(log.values[metric], dtype=np.float64)[mask]
            point[metric] = float(values.mean()) if values.size else float("nan")
            sums = np.bincount(codes[mask], weights=values, minlength=n_sessions)
            boot[metric] = (weights @ sums) / total
    tops = [t for t, m in zip(log.tops, mask, strict=True) if m]
    top_codes = codes[mask]
    if tops:
        items = np.concatenate(tops)
        owner = np.repeat(top_codes, [len(t) for t in tops])
        point["coverage"] = len(np.unique(items)) / size
        unique, item_codes = np.unique(items, return_inverse=True)
        indicator = np.zeros((n_sessions, len(unique)), dtype=np.float32)
        indicator[owner, item_codes] = 1.0
        sub = weights[:COVERAGE_BOOTSTRAP].astype(np.float32)
        covered = ((sub @ indicator) > 0).sum(axis=1) / size
        # A resample holds ~63% of the distinct sessions, so its union is smaller: centre
        # the resamples on the point value (bias-corrected percentile interval).
        covered = covered + (point["coverage"] - covered.mean())
        boot["coverage"] = np.concatenate(
            [covered, np.full(len(weights) - len(sub), np.nan)]
        ).astype(np.float64)
    else:
        point["coverage"] = float("nan")
        boot["coverage"] = np.full(len(weights), np.nan)
    return point, boot


@dataclass
class Summary:
    """Figures per method and subset: point values, resamples (paired across methods)."""

    point: dict[str, dict[str, dict[str, float]]]  # method -> subset -> metric -> value
    boot: dict[str, dict[str, dict[str, np.ndarray]]]
    per_listener: list[dict[str, dict[str, dict[str, float]]]]

    def figures(self, method: str, subset: str) -> dict[str, object]:
        """M with every metric and its ``_ci``."""
        out: dict[str, object] = {}
        for metric in METRICS:
            out[metric] = _round(self.point[method][subset][metric])
            out[f"{metric}_ci"] = interval(self.boot[method][subset][metric])
        return out

    def compare(self, a: str, b: str, subset: str, metric: str = "ndcg@10") -> dict[str, object]:
        """The paired bootstrap of *a* − *b*: does *a* beat *b*?"""
        diff = self.boot[a][subset][metric] - self.boot[b][subset][metric]
        low, high = interval(diff)
        value = self.point[a][subset][metric] - self.point[b][subset][metric]
        return {
            "a": a,
            "b": b,
            "subset": subset,
            "metric": metric,
            "difference": _round(value),
            "difference_ci": [low, high],
            "a_beats_b": bool(low is not None and low > 0),
            "b_beats_a": bool(high is not None and high < 0),
        }


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 5)


def interval(samples: np.ndarray) -> list[float | None]:
    """The 95% percentile interval of the finite resamples ([None, None] if none)."""
    finite = np.asarray(samples, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return [None, None]
    low, high = np.percentile(finite, [2.5, 97.5])
    return [_round(low), _round(high)]


def summarise(logs: Sequence[ListenerLog], *, bootstrap: int = BOOTSTRAP, seed: int = 0) -> Summary:
    """Mean of per-listener figures, with session-bootstrap resamples shared by every
    method (so differences are paired)."""
    names = list(dict.fromkeys(name for log in logs for name in log.methods))
    point: dict = {name: {"all": {}, "new": {}} for name in names}
    boot: dict = {name: {"all": {}, "new": {}} for name in names}
    per_listener: list[dict] = []
    collected: dict = {name: {"all": [], "new": []} for name in names}
    for number, log in enumerate(logs):
        if not log.sessions:
            per_listener.append({})
            continue
        _, codes = np.unique(np.asarray(log.sessions), return_inverse=True)
        weights = session_weights(log.sessions, bootstrap, seed + number)
        masks = {"all": np.ones(len(codes), dtype=bool), "new": np.asarray(log.new, dtype=bool)}
        mine: dict = {}
        for name, method_log in log.methods.items():
            mine[name] = {}
            for subset, mask in masks.items():
                p, b = _subset_figures(method_log, codes, mask, weights, log.catalogue_size)
                mine[name][subset] = p
                collected[name][subset].append((p, b))
        per_listener.append(mine)
    for name in names:
        for subset in ("all", "new"):
            pairs = collected[name][subset]
            for metric in METRICS:
                points = np.array([p[metric] for p, _ in pairs], dtype=np.float64)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    point[name][subset][metric] = (
                        float(np.nanmean(points)) if np.isfinite(points).any() else float("nan")
                    )
                    stack = np.array([b[metric] for _, b in pairs], dtype=np.float64)
                    boot[name][subset][metric] = (
                        np.nanmean(stack, axis=0) if stack.size else np.full(bootstrap, np.nan)
                    )
    return Summary(point, boot, per_listener)
