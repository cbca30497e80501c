"""The plugin's preferences, kept in the store's ``settings`` table (Qt-free).

Each field is one settings key (``ui.<name>``); the recommender's own knobs (the
familiar↔discover balance, the artist-repeat window, excluded genres and folders) are
passed to ``recommend.service.suggestions`` through :meth:`Prefs.rerank_settings`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import sqlite_utils

RETRAIN_POLICIES = ("plays", "idle", "manual")
RERANK_KEY = "recommend.rerank"  # read by recommend.service when no settings are passed
PROVIDER_KEY = "recommend.provider"  # the execution provider the model should run on
DEFAULT_EXCLUDED_GENRES = ["Audiobook", "Podcast", "Spoken Word"]


@dataclass
class Prefs:
    autoplay: bool = True
    suggestions: int = 10
    retrain_policy: str = "plays"  # after N new plays / when idle / manual
    retrain_after_plays: int = 50
    retrain_idle_minutes: int = 10
    provider: str = ""  # "" = the best available execution provider
    excluded_folders: list[str] = field(default_factory=list)
    excluded_genres: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDED_GENRES))
    artist_window: int = 3  # no artist twice within this many suggestions/plays
    discover: float = 0.2  # 0 = only familiar tracks ... 1 = only never-played ones
    not_now_hours: int = 24
    analyse_audio: bool = True  # compute audio features of new tracks in the background

    @classmethod
    def load(cls, db: sqlite_utils.Database) -> Prefs:
        from player_plugin.store.settings import get_setting

        prefs = cls()
        for f in fields(cls):
            value = get_setting(db, f"ui.{f.name}", None)
            if value is not None:
                setattr(prefs, f.name, _coerce(getattr(prefs, f.name), value))
        return prefs

    def save(self, db: sqlite_utils.Database) -> None:
        from player_plugin.store.settings import set_setting

        with db.atomic():
            for name, value in asdict(self).items():
                set_setting(db, f"ui.{name}", value)
            # the re-ranker's own key, so `segue recommend` follows the GUI's knobs
            set_setting(db, RERANK_KEY, self.rerank_settings(for_service=True))
            set_setting(db, PROVIDER_KEY, self.provider or None)

    def rerank_settings(self, *, for_service: bool = False) -> dict[str, Any]:
        """What the re-ranker reads (``recommend.rerank.RerankSettings`` fields), plus the
        exclusions and provider the plugin applies itself (unless *for_service*)."""
        knobs: dict[str, Any] = {
            "discover": float(self.discover),
            "artist_window": int(self.artist_window),
        }
        if for_service:
            return knobs
        return {
            **knobs,
            "excluded_genres": list(self.excluded_genres),
            "excluded_folders": list(self.excluded_folders),
            "provider": self.provider or None,
        }


def _coerce(default: Any, value: Any) -> Any:
    """A stored value in the type of the default, or the default when it does not fit."""
    try:
        if isinstance(default, bool):
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, list):
            return [str(v) for v in value] if isinstance(value, list) else default
        return str(value)
    except (TypeError, ValueError):
        return default
