"""The one small interface every recommender shares: baselines and the model alike.

``fit(plays, catalogue)`` learns from past plays, ``observe(play)`` grows count-based state
and the current session as history arrives, ``scores()`` rates every catalogue item for
the current session (float32, NaN never ranks first), and ``suggest(n, exclude)`` is built
on them. ``explain(item)`` says why, in words that name the track or fact it rests on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import SESSION_GAP_MS, Play, PlayLog
from player_plugin.recommend.play_index import PlayIndex


class Recommender(ABC):
    """Base class: subclasses implement ``scores`` and usually ``observe``."""

    name: str = "recommender"

    def __init__(self) -> None:
        self.catalogue: Catalogue | None = None
        self.history = PlayLog()  # every play observed, oldest first
        self._played = PlayIndex()

    def fit(self, plays: Sequence[Play], catalogue: Catalogue) -> None:
        """Learn from *plays* (oldest first) over *catalogue*. The default replays them
        through ``observe``, which is all a count-based method needs."""
        self.catalogue = catalogue
        self.history = PlayLog()
        self.reset()
        for play in plays:
            self.observe(play)

    def reset(self) -> None:
        """Clear learned state before ``fit`` replays the history."""

    def observe(self, play: Play) -> None:
        """One more play happened (appended to the history and the current session)."""
        self.history.append(play)

    @property
    def session(self) -> list[Play]:
        """The plays of the current session: since the last 30-minute gap."""
        return self.history[self.history.session_start(SESSION_GAP_MS) :]

    def take_audio(self, catalogue: Catalogue, vectors: np.ndarray | None = None) -> bool:
        """*catalogue* holds the same tracks and tags with new audio descriptors (an analysis
        ran): use it in place, the state then what a fit on it gives, or return False (the
        caller fits afresh). *vectors*: the model's item vectors for it, when known. A
        method that does not say it can, cannot."""
        return False

    def track_plays(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """*item*'s plays in the history's order, for reasons (one array pass): their
        starts (ms) and whether each was a listen."""
        return self._played.update(self.history).track(item)

    def artist_listens(self, artist: int) -> int:
        """How many listens in the history were of *artist*'s tracks."""
        assert self.catalogue is not None
        return self._played.update(self.history).artist_listens(self.catalogue, artist)

    @abstractmethod
    def scores(self) -> np.ndarray:
        """float32[len(catalogue)]: higher is a better next track for the current session."""

    def suggest(self, n: int, exclude: Iterable[int] = ()) -> list[int]:
        """The top *n* items, best first, never an excluded one and never a NaN score."""
        scores = np.array(self.scores(), dtype=np.float32, copy=True)
        scores[np.isnan(scores)] = -np.inf
        excluded = np.fromiter(exclude, dtype=np.int64)
        if excluded.size:
            scores[excluded] = -np.inf
        n = min(n, int(np.isfinite(scores).sum()))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]

    def explain(self, item: int) -> str | None:
        """Why *item* scores well now, or None when this method cannot say."""
        return None
