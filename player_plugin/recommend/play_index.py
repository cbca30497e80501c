"""Where each track's plays sit in a recommender's history, kept up as plays arrive.

Reasons ask "when was this track played, and was it heard?" for each suggested track, on
every call: a Python loop over the whole history per question cost ≈ 1 ms at 20,000 plays
(up to three per suggestion), and a favourite's thousands of plays as Python objects more.
The index keeps the history's tracks, starts and listens as arrays, extended with the plays
appended since the last question, so that each answer is one array comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play, PlayLog


class PlayIndex:
    """The tracks, starts and listens of an append-only history, as arrays (the last play
    may be replaced in place, e.g. a listen reclassified as a skip: it is read again on
    every update)."""

    def __init__(self) -> None:
        self._history: Sequence[Play] | None = None
        self._items = np.zeros(0, dtype=np.int32)
        self._started = np.zeros(0, dtype=np.int64)
        self._listened = np.zeros(0, dtype=bool)
        self._n = 0

    def update(self, history: Sequence[Play]) -> PlayIndex:
        """Follow *history* (another list, or a shorter one, is indexed afresh)."""
        if history is not self._history or len(history) < self._n:
            self._history, self._n = history, 0
        n = len(history)
        if n > len(self._items):
            size = max(n, 2 * len(self._items), 1024)
            self._items = np.resize(self._items, size)
            self._started = np.resize(self._started, size)
            self._listened = np.resize(self._listened, size)
        start = max(self._n - 1, 0)  # the last play again: it may have been replaced
        if isinstance(history, PlayLog):  # its columns' new part, sliced: no play made
            self._items[start:n] = np.frombuffer(history.items[start:n], np.int64)
            self._started[start:n] = np.frombuffer(history.starts[start:n], np.int64)
            codes = np.frombuffer(history.outcomes[start:n], np.int8)
            self._listened[start:n] = codes == Outcome.LISTENED
        else:
            new = history[start:n]
            self._items[start:n] = np.fromiter((p.item for p in new), np.int32, len(new))
            self._started[start:n] = np.fromiter((p.started_at for p in new), np.int64, len(new))
            self._listened[start:n] = np.fromiter((p.listened for p in new), bool, len(new))
        self._n = n
        return self

    def track(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """*item*'s plays in the history's order: their starts (ms) and whether each was
        a listen."""
        found = self._items[: self._n] == item
        return self._started[: self._n][found], self._listened[: self._n][found]

    def artist_listens(self, catalogue: Catalogue, artist: int) -> int:
        """How many of the plays were listens to *artist*."""
        n = self._n
        heard = self._items[:n][self._listened[:n]]
        return int(np.count_nonzero(catalogue.artist[heard] == artist))
