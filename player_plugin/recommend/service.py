"""Suggestions for the current session: the best available method, re-ranked, explained.

Used by `segue recommend` and the GUI. The active model serves when there is one
(``model.load_active``); otherwise the strongest baseline (measured by `segue evaluate`, see
benchmarks/results/evaluate_*.json); with no plays at all, a cold-start pick that says so.
By default the fitted state is kept between calls (:mod:`player_plugin.recommend.serving`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import sqlite_utils

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play
from player_plugin.recommend.base import Recommender
from player_plugin.recommend.baselines import make_baseline
from player_plugin.recommend.explain import history_reason, session_artist_reason
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.store.catalogue import load_catalogue
from player_plugin.store.feedback import hidden_track_ids
from player_plugin.store.serving import serving_plays
from player_plugin.store.settings import get_setting

log = logging.getLogger(__name__)

DEFAULT_METHOD = "session-knn"  # the strongest baseline on both real histories
COLD_START_METHOD = "random-unplayed"
SETTINGS_KEY = "recommend.rerank"  # JSON object of RerankSettings fields (the GUI's knobs)

__all__ = [
    "Suggestion",
    "SuggestionList",
    "UnknownTrack",
    "answer",
    "build_recommender",
    "suggestions",
]


class UnknownTrack(LookupError):
    """``after`` names a file that is not in the library."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    track_id: int
    path: bytes
    artist: str
    title: str
    score: float
    reason: str


@dataclass
class SuggestionList:
    method: str
    model_id: str | None
    items: list[Suggestion] = field(default_factory=list)


def _settings(db: sqlite_utils.Database, settings: RerankSettings | dict | None) -> RerankSettings:
    if isinstance(settings, RerankSettings):
        return settings
    if settings is None:
        settings = get_setting(db, SETTINGS_KEY, {}) or {}
    return RerankSettings.from_mapping(settings if isinstance(settings, dict) else {})


def _reason(rec: Recommender, item: int, catalogue: Catalogue, now: int) -> str:
    try:
        said = rec.explain(item)
    except Exception:  # an explanation must never stop a suggestion
        log.debug("explain failed for %s", rec.name, exc_info=True)
        said = None
    if said:
        return said
    return session_artist_reason(rec.session, item, catalogue) or history_reason(
        rec.history, item, catalogue, now
    )


def _fitted_model(
    db: sqlite_utils.Database, plays: list[Play], catalogue: Catalogue, engine: object = None
) -> Recommender | None:
    """The serving model fitted on *plays* (or None: the baselines serve). *engine*, when
    given, is the one already loaded for the same registry state (its vector cache kept)."""
    from player_plugin.recommend.model import ModelRecommender, load_active

    try:
        rec = ModelRecommender(engine) if engine is not None else load_active(db, fit=False)
    except Exception as exc:  # a model must never stop suggestions
        log.warning("model not used: %s: %s", type(exc).__name__, exc)
        return None
    if rec is None:
        return None
    try:
        rec.fit(plays, catalogue)
    except Exception as exc:
        log.warning("model %s not used: %s: %s", rec.model_id, type(exc).__name__, exc)
        return None
    return rec


def build_recommender(
    db: sqlite_utils.Database,
    plays: list[Play],
    catalogue: Catalogue,
    method: str | None,
    *,
    anchor: bool = False,
    engine: object = None,
) -> tuple[Recommender, str | None]:
    """The recommender that serves (the active model, else a baseline), fitted on *plays*,
    and the model id (None for a baseline)."""
    rec: Recommender | None = None
    if method is None and plays:
        rec = _fitted_model(db, plays, catalogue, engine)
    if rec is not None:
        return rec, getattr(rec, "model_id", None)
    name = method or (DEFAULT_METHOD if plays or anchor else COLD_START_METHOD)
    rec = make_baseline(name)
    rec.fit(plays, catalogue)
    return rec, None


def answer(
    db: sqlite_utils.Database,
    rec: Recommender,
    model_id: str | None,
    reranker: Reranker,
    n: int,
    *,
    now: int,
    cold: bool,
    exclude: Iterable[int] = (),
) -> SuggestionList:
    """Score, re-rank and explain: the list a fitted recommender and re-ranker give now."""
    catalogue = reranker.catalogue
    hidden_ids = hidden_track_ids(db, now) | {int(t) for t in exclude}
    hidden = (
        np.flatnonzero(np.isin(catalogue.track_ids, np.fromiter(hidden_ids, np.int64))).tolist()
        if hidden_ids
        else []
    )
    scores = rec.scores()
    items = reranker.rerank(scores, n, hidden=hidden, now_ms=now)
    out = []
    for item in items:
        reason = (
            "a random pick from your library to start with: play something and suggestions follow"
            if cold
            else _reason(rec, item, catalogue, now)
        )
        out.append(
            Suggestion(
                int(catalogue.track_ids[item]),
                catalogue.paths[item] if catalogue.paths else b"",
                catalogue.artist_names[catalogue.artist[item]],
                catalogue.titles[item],
                float(scores[item]),
                reason,
            )
        )
    return SuggestionList(getattr(rec, "name", "model"), model_id, out)


def suggestions(
    db: sqlite_utils.Database,
    n: int = 10,
    *,
    after: bytes | None = None,
    settings: RerankSettings | dict | None = None,
    now_ms: int | None = None,
    method: str | None = None,
    exclude: Iterable[int] = (),
    cached: bool = True,
) -> SuggestionList:
    """Up to *n* suggestions for the current session (the plays since the last 30-minute
    gap), or for a session of just the track at *after*; never a track id in *exclude*
    (e.g. what is queued, or an excluded genre). The play in progress counts as listened.

    With *cached* (the default) the fitted state is kept per database file between calls
    and only the plays logged since are observed (:mod:`player_plugin.recommend.serving`);
    ``cached=False`` builds everything from the store, as a reference."""
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    rules = _settings(db, settings)
    if cached and after is None:
        from player_plugin.recommend.serving import CACHE

        found = CACHE.suggestions(db, n, rules=rules, now_ms=now, method=method, exclude=exclude)
        if found is not None:
            return found
    catalogue = load_catalogue(db)
    if len(catalogue) == 0 or n <= 0:
        return SuggestionList(method or DEFAULT_METHOD, None, [])
    plays = serving_plays(db, catalogue, now_ms=now).plays
    anchor: Play | None = None
    if after is not None:
        index = {bytes(p): i for i, p in enumerate(catalogue.paths or [])}
        if bytes(after) not in index:
            raise UnknownTrack(after)
        start = max(now, plays[-1].started_at + SESSION_GAP_MS + 1) if plays else now
        anchor = Play(index[bytes(after)], start, 0, Outcome.LISTENED, -1)
    rec, model_id = build_recommender(db, plays, catalogue, method, anchor=anchor is not None)
    if anchor is not None:
        rec.observe(anchor)
    reranker = Reranker(catalogue, rules).fit(plays)
    if anchor is not None:
        reranker.observe(anchor)
    cold = not plays and anchor is None
    return answer(db, rec, model_id, reranker, n, now=now, cold=cold, exclude=exclude)
