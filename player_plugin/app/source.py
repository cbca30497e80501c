"""Where suggestions come from, in the listener's words.

:func:`serving_source` decides what serves now — the active model when it loads (as
``app.suggest`` uses it), else the patterns of the listener's own plays, else, with no
plays, first picks from the library — and :func:`source_of` names what served one list.
The dock's header and the model report both say :attr:`Source.words`, so they always
agree, and neither names a method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlite_utils

from player_plugin.app.suggest import START_METHODS
from player_plugin.domain.words import count
from player_plugin.recommend.model import load_active
from player_plugin.store.models import active_model, get_model

Kind = Literal["model", "patterns", "start"]

__all__ = ["Source", "serving_source", "source_of"]


@dataclass(frozen=True)
class Source:
    """What serves suggestions: ``kind``, the model's id and the plays it learnt from
    (0 when its registry row does not say)."""

    kind: Kind
    model_id: str | None = None
    plays: int = 0

    @property
    def words(self) -> str:
        """ "from your model, trained on 12,400 plays" and the like."""
        if self.kind == "model":
            if not self.plays:  # a model registered without its training's size
                return "from your model"
            return f"from your model, trained on {count(self.plays, 'play')}"
        if self.kind == "patterns":
            return "from your listening patterns"
        return "picked from your library to start with (play something to steer them)"


def _model(db: sqlite_utils.Database, model_id: str) -> Source:
    # the registry row by id; a model whose manifest names another id is the active one
    # (the first ``load_active`` tries)
    row = get_model(db, model_id) or active_model(db) or {}
    return Source("model", row.get("id", model_id), int(row.get("data_size") or 0))


def source_of(db: sqlite_utils.Database, method: str, model_id: str | None) -> Source:
    """The source of a list ``app.suggest.suggestions`` returned (its method, model id)."""
    if model_id:
        return _model(db, model_id)
    return Source("start" if method in START_METHODS else "patterns")


def serving_source(db: sqlite_utils.Database) -> Source:
    """What serves now: the active model if it loads, else the listener's patterns (any
    play logged), else first picks."""
    try:
        rec = load_active(db, fit=False)
    except Exception:  # a model that cannot load does not serve (app.suggest falls back)
        rec = None
    if rec is not None:
        return _model(db, rec.model_id)
    played = db.execute("SELECT 1 FROM plays WHERE track_id IS NOT NULL LIMIT 1").fetchone()
    return Source("patterns" if played else "start")
