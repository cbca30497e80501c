"""What is never suggested, resolved to catalogue items for one call.

:class:`Never` holds one call's rules (the listener's *never* and unexpired *not now*, the
excluded genres and folders of the settings, the track playing and the queued ones, ids
the caller excludes); :class:`Index` maps track ids and paths to catalogue items and
keeps the excluded genres and folders as items, with a serving state (valid while its
catalogue is). Nothing here is built for the whole library on a first call when a binary
search or a short scan answers (a dict of 100,000 ids or paths costs a start ~0.1 s).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from player_plugin.app.settings import Settings
from player_plugin.domain.catalogue import Catalogue
from player_plugin.store.feedback import hidden_track_ids
from player_plugin.store.library_view import excluded_track_ids

__all__ = ["Index", "Never"]

FEW_PATHS = 4  # paths looked up by a scan of the catalogue's, more by a dict of them


class Index:
    """Track ids and paths to catalogue items, and the excluded genres and folders as
    items: built when first needed, kept with a cached state (valid while its catalogue
    is)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._ids: tuple[np.ndarray, np.ndarray | None] | None = None  # sorted, their order
        self._by_path: dict[bytes, int] | None = None
        self._excluded: tuple[tuple, frozenset[int]] | None = None

    def items_of_ids(self, track_ids: Iterable[int]) -> list[int]:
        """The items of the *track_ids* in the catalogue, in their order (a binary search
        in the catalogue's ids, not a dict of 100,000 of them built on the first call)."""
        wanted = np.fromiter((int(t) for t in track_ids), np.int64)
        if self._ids is None:
            ids = np.asarray(self.catalogue.track_ids, dtype=np.int64)
            order = None if bool((np.diff(ids) > 0).all()) else np.argsort(ids, kind="stable")
            self._ids = (ids if order is None else ids[order], order)
        keys, order = self._ids
        if not wanted.size or not keys.size:
            return []
        at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
        at = at[keys[at] == wanted]
        return (at if order is None else order[at]).tolist()

    def items_of_paths(self, paths: Iterable[bytes]) -> list[int]:
        wanted = [bytes(p) for p in paths]
        known = self.catalogue.paths or []
        if self._by_path is None and len(wanted) <= FEW_PATHS:
            # the track playing and a few queued: a scan of the list (paths are unique)
            # costs less than the dict of every path the first call would build
            found = (_position(known, p) for p in wanted)
            return [i for i in found if i is not None]
        if self._by_path is None:
            self._by_path = {bytes(p): i for i, p in enumerate(known)}
        found = (self._by_path.get(p) for p in wanted)
        return [i for i in found if i is not None]

    def excluded(
        self, db: sqlite_utils.Database, genres: list[str], folders: list[str]
    ) -> frozenset[int]:
        key = (tuple(g.casefold() for g in genres), tuple(folders))
        if self._excluded is None or self._excluded[0] != key:
            ids = excluded_track_ids(db, genres, folders)
            self._excluded = (key, frozenset(self.items_of_ids(ids)))
        return self._excluded[1]


def _position(values: list[bytes], value: bytes) -> int | None:
    try:
        return values.index(value)
    except ValueError:
        return None


@dataclass
class Never:
    """The rules of what is never suggested for one call, resolved to items by
    :meth:`items` (the re-ranker adds its own: recent plays, repeated skips)."""

    settings: Settings
    playing: bytes | None
    queued: Iterable[bytes]
    exclude: Iterable[int]
    now: int

    def items(self, db: sqlite_utils.Database, index: Index) -> set[int]:
        s = self.settings
        out = set(index.excluded(db, list(s.excluded_genres), list(s.excluded_folders)))
        out.update(index.items_of_ids(hidden_track_ids(db, self.now)))  # never, not now
        out.update(index.items_of_ids(self.exclude))
        paths = [bytes(p) for p in self.queued]
        if self.playing is not None:
            paths.append(bytes(self.playing))
        out.update(index.items_of_paths(paths))
        return out

    def follows(self, index: Index) -> list[int]:
        """The tracks the list plays after when that is not the last play: the queued
        ones in the library, the last two (the list comes after the queue), after the
        track playing."""
        queued = [bytes(p) for p in self.queued][-2:]
        if len(queued) == 1 and self.playing is not None:
            queued.insert(0, bytes(self.playing))
        return index.items_of_paths(queued) if queued else []
