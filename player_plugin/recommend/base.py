"""The one small interface every recommender shares: baselines and the model alike.

``fit(plays, catalogue)`` learns from past plays, ``observe(play)`` grows count-based state
and the current session as history arrives, ``scores()`` rates every catalogue item for
the current session (float32, NaN never ranks first), and ``suggest(n, exclude)`` is built
on them. ``explain(item)`` says why, in words that name the track or fact it rests on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from player_plugin.store.listen import Outcome

SESSION_GAP_MS = 30 * 60 * 1000  # a new listening session after a 30-minute gap


def tie_breaker(track_ids: np.ndarray) -> np.ndarray:
    """A fixed number in [0, 1) per track (splitmix64 of its store id): an order for equal
    scores that says nothing about the tracks (not when they were added: in a catalogue
    built from a history that is the order of first plays, the future of an evaluation)."""
    with np.errstate(over="ignore"):
        h = np.asarray(track_ids, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True, slots=True)
class Play:
    """One play, as recommenders see it: which catalogue item, when, and how it ended."""

    item: int  # index into the catalogue
    started_at: int  # ms since the epoch, UTC
    ms_played: int = 0
    outcome: Outcome = "listened"
    session: int = 0

    @property
    def listened(self) -> bool:
        return self.outcome == "listened"


@dataclass
class Catalogue:
    """Every track a recommender may suggest, with what we know about each.

    Item ``i`` is store track ``track_ids[i]``. Categorical fields are indices into the
    name lists, 0 meaning unknown. ``audio`` holds one analysis vector per item (NaN rows
    where a track is not analysed) or is None when nothing is analysed.
    """

    track_ids: np.ndarray  # int64[n]
    titles: list[str]
    artist: np.ndarray  # int32[n], index into artist_names
    artist_names: list[str]  # artist_names[0] == "" (unknown)
    album: np.ndarray  # int32[n], index into album_names
    album_names: list[str]
    genre: np.ndarray = field(default=None)  # int32[n], first genre
    genre_names: list[str] = field(default_factory=lambda: [""])
    year: np.ndarray = field(default=None)  # int32[n], 0 = unknown
    duration_ms: np.ndarray = field(default=None)  # int32[n], 0 = unknown
    audio: np.ndarray | None = None  # float32[n, d]
    paths: list[bytes] | None = None

    def __post_init__(self) -> None:
        n = len(self.track_ids)
        for name in ("genre", "year", "duration_ms"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(n, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.track_ids)

    def describe(self, item: int) -> str:
        """ "Artist – Title" for messages and explanations."""
        artist = self.artist_names[self.artist[item]]
        return f"{artist} – {self.titles[item]}" if artist else self.titles[item]


class Recommender(ABC):
    """Base class: subclasses implement ``scores`` and usually ``observe``."""

    name: str = "recommender"

    def __init__(self) -> None:
        self.catalogue: Catalogue | None = None
        self.history: list[Play] = []

    def fit(self, plays: Sequence[Play], catalogue: Catalogue) -> None:
        """Learn from *plays* (oldest first) over *catalogue*. The default replays them
        through ``observe``, which is all a count-based method needs."""
        self.catalogue = catalogue
        self.history = []
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
        plays = self.history
        start = len(plays) - 1
        while start > 0 and plays[start].started_at - plays[start - 1].started_at <= SESSION_GAP_MS:
            start -= 1
        start = max(start, 0)
        return plays[start:]

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
