"""Suggestions for the current session: the best available method, re-ranked, explained.

Used by `segue recommend` and the GUI. The active model serves when there is one (helper
E's ``load_active``); otherwise the strongest baseline (measured by `segue evaluate`, see
benchmarks/results/evaluate_*.json); with no plays at all, a cold-start pick that says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlite_utils

from player_plugin.recommend.base import SESSION_GAP_MS, Catalogue, Play, Recommender
from player_plugin.recommend.baselines import make_baseline
from player_plugin.recommend.explain import history_reason, session_artist_reason
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.store.catalogue import load_catalogue, load_plays
from player_plugin.store.feedback import hidden_track_ids
from player_plugin.store.settings import get_setting

log = logging.getLogger(__name__)

DEFAULT_METHOD = "session-knn"  # the strongest baseline on both real histories
COLD_START_METHOD = "random-unplayed"
SETTINGS_KEY = "recommend.rerank"  # JSON object of RerankSettings fields (the GUI's knobs)

__all__ = ["Suggestion", "SuggestionList", "UnknownTrack", "load_model", "suggestions"]


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


def load_model(db: sqlite_utils.Database) -> Recommender | None:
    """The active model, fitted on the store's plays, or None when there is no active
    model or it cannot load (the baselines serve then)."""
    from player_plugin.recommend.model import load_active

    try:
        return load_active(db)
    except Exception as exc:  # a model must never stop suggestions
        log.warning("model not used: %s: %s", type(exc).__name__, exc)
        return None


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


def suggestions(
    db: sqlite_utils.Database,
    n: int = 10,
    *,
    after: bytes | None = None,
    settings: RerankSettings | dict | None = None,
    now_ms: int | None = None,
    method: str | None = None,
    exclude: Iterable[int] = (),
) -> SuggestionList:
    """Up to *n* suggestions for the current session (the plays since the last 30-minute
    gap), or for a session of just the track at *after*; never a track id in *exclude*
    (e.g. what is queued, or an excluded genre)."""
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    catalogue = load_catalogue(db)
    if len(catalogue) == 0 or n <= 0:
        return SuggestionList(method or DEFAULT_METHOD, None, [])
    plays = load_plays(db, catalogue)
    rules = _settings(db, settings)
    anchor: Play | None = None
    if after is not None:
        index = {bytes(p): i for i, p in enumerate(catalogue.paths or [])}
        if bytes(after) not in index:
            raise UnknownTrack(after)
        start = max(now, plays[-1].started_at + SESSION_GAP_MS + 1) if plays else now
        anchor = Play(index[bytes(after)], start, 0, "listened", -1)

    rec: Recommender | None = None
    model_id = None
    if method is None and plays:
        rec = load_model(db)
        if rec is not None:
            model_id = getattr(rec, "model_id", None)
    if rec is None:
        name = method or (DEFAULT_METHOD if plays or anchor else COLD_START_METHOD)
        rec = make_baseline(name)
        rec.fit(plays, catalogue)
    if anchor is not None:
        rec.observe(anchor)
    reranker = Reranker(catalogue, rules).fit(plays)
    if anchor is not None:
        reranker.observe(anchor)
    hidden_ids = hidden_track_ids(db, now) | {int(t) for t in exclude}
    hidden = [i for i, t in enumerate(catalogue.track_ids) if int(t) in hidden_ids]
    scores = rec.scores()
    items = reranker.rerank(scores, n, hidden=hidden, now_ms=now)
    cold = not plays and anchor is None
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
