"""Smart shuffle: the recommender picks the next track (:func:`app.suggest.suggestions`).

With tracks queued, the next one is the queued track the recommender ranks highest for
what plays now (None when it ranks none of them: the player then picks one at random);
with an empty queue, its top suggestion."""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from player_plugin.app.settings import Settings
from player_plugin.app.suggest import suggestions
from player_plugin.store.db import open_db

RANKED = 200  # how far down the recommender's list a queued track is looked for


def smart_next(
    db: sqlite_utils.Database,
    playing: bytes | None,
    queued: Iterable[bytes],
    settings: Settings | None = None,
) -> bytes | None:
    """The path to play after *playing*, chosen among *queued* (or the library)."""
    waiting = {bytes(p) for p in queued}
    n = RANKED if waiting else 1
    ranked = suggestions(db, n, settings=settings, playing=playing).items
    for item in ranked:
        path = bytes(item.path)
        if not waiting or path in waiting:
            return path
    return None


def smart_next_at(
    db_path: str, playing: bytes | None, queued: list[bytes], settings: Settings | None
) -> bytes | None:
    """:func:`smart_next` with a connection of its own (for a worker thread)."""
    db = open_db(db_path, migrate=False)
    try:
        return smart_next(db, playing, queued, settings)
    finally:
        db.close()
