"""Count-based baselines (most-played, recent, markov, unplayed diagnostics) and the registry.

Every baseline keeps incremental state in ``observe`` (O(1) or O(session) per play) so
``scores()`` is a few O(catalogue) numpy operations. One default configuration for all
listeners; the defaults were chosen on the validation part of the first 80% of each
history (see benchmarks/evaluate.py), never on test plays.

Methods whose main signal leaves most of the catalogue at zero (markov, the kNNs, content)
add a small *backoff*: the listener's recency-weighted play counts scaled far below the
main signal, so their ties break by "what you play these days" instead of by chance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend import baselines_mf
from player_plugin.recommend.base import Recommender
from player_plugin.recommend.baselines_content import Content
from player_plugin.recommend.baselines_knn import ItemKNN, SessionKNN
from player_plugin.recommend.counting import (
    LONG_TERM,
    OUTCOME_WEIGHT,
    CountingRecommender,
    DecayedCounts,
    normalise,
)
from player_plugin.recommend.explain import follows_reason, listens_fact, since_fact


class MostPlayed(CountingRecommender):
    """Personal most-played, recency-weighted: recent plays count most, old ones a little."""

    name = "most-played"
    half_life_days = 1.0  # weight of the all-time listen count beside the decayed one

    def reset(self) -> None:
        super().reset()
        self.decayed = DecayedCounts(len(self.catalogue), self.half_life_days)

    def observe(self, play: Play) -> None:
        super().observe(play)
        self.decayed.add(play.item, play.started_at, OUTCOME_WEIGHT.get(play.outcome, 0.0))

    def _reclassify(self, last: Play, play: Play) -> bool:
        weight = OUTCOME_WEIGHT.get(play.outcome, 0.0)
        return self.decayed.readd_last(play.item, play.started_at, weight)

    def scores(self) -> np.ndarray:
        values = normalise(self.decayed.values()) + LONG_TERM * self.listens
        return values.astype(np.float32)

    def explain(self, item: int) -> str | None:
        started, listened = self.track_plays(item)
        return listens_fact(started[listened])


class Recent(CountingRecommender):
    """Repeat-recent: the most recently played tracks first; never-played ones last."""

    name = "recent"

    def scores(self) -> np.ndarray:
        out = (self.last_index - len(self.history)).astype(np.float32)
        out[self.last_index < 0] = -np.inf
        return out

    def _reclassify(self, last: Play, play: Play) -> bool:
        return True  # only the counts every method keeps

    def explain(self, item: int) -> str | None:
        started, _ = self.track_plays(item)
        now = self.history[-1].started_at if self.history else 0
        return since_fact(int(started[-1]) if started.size else None, now)


class Markov(CountingRecommender):
    """First-order transitions: what followed the current track before (within sessions)."""

    name = "markov"

    def reset(self) -> None:
        super().reset()
        self.transitions: defaultdict[int, dict[int, float]] = defaultdict(dict)

    def observe(self, play: Play) -> None:
        previous = self.history[-1] if self.history else None
        super().observe(play)
        if previous is not None and play.listened and self.in_session(play, previous):
            row = self.transitions[previous.item]
            row[play.item] = row.get(play.item, 0.0) + 1.0

    def _reclassify(self, last: Play, play: Play) -> bool:
        previous = self.history[-2] if len(self.history) > 1 else None
        if play.listened or previous is None or not self.in_session(last, previous):
            return True  # no transition was counted for it
        row = self.transitions[previous.item]
        row[play.item] -= 1.0  # whole counts: exact
        if not row[play.item]:  # counted first by this play: as if it never had been
            del row[play.item]
            if not row:
                del self.transitions[previous.item]
        return True

    def scores(self) -> np.ndarray:
        main = np.zeros(len(self.catalogue), dtype=np.float64)
        if self.history:
            row = self.transitions.get(self.history[-1].item)
            if row:
                main[np.fromiter(row.keys(), np.int64)] = np.fromiter(row.values(), np.float64)
        return self.with_backoff(main)

    def explain(self, item: int) -> str | None:
        if not self.history:
            return None
        last = self.history[-1].item
        count = self.transitions.get(last, {}).get(item, 0)
        if count >= 1:
            return follows_reason(item, last, self.catalogue, int(count))
        return None


class RandomUnplayed(CountingRecommender):
    """Diagnostic: a random track the listener has not played yet."""

    name = "random-unplayed"
    seed = 1234

    def reset(self) -> None:
        super().reset()
        self.rng = np.random.default_rng(self.seed)
        self.noise = self.rng.random(len(self.catalogue))

    def observe(self, play: Play) -> None:
        super().observe(play)
        self._fresh = False

    @property
    def draw(self) -> np.ndarray:
        """Random tie-breaking numbers, drawn again after each play (stable in between)."""
        if not getattr(self, "_fresh", True):
            self.noise = self.rng.random(len(self.catalogue))
            self._fresh = True
        return self.noise

    def scores(self) -> np.ndarray:
        out = (1.0 + self.draw).astype(np.float32)
        out[self.played] = 0.0
        return out

    def explain(self, item: int) -> str | None:
        return None if self.played[item] else "new to you: a random pick from your library"


class UnplayedSameArtist(RandomUnplayed):
    """Diagnostic for the "new" leak: the last artist's not-yet-played tracks first."""

    name = "unplayed-same-artist"

    def scores(self) -> np.ndarray:
        out = self.draw.copy()
        if self.history:
            artist = self.catalogue.artist[self.history[-1].item]
            if artist:
                out[self.catalogue.artist == artist] += 1.0
        out += 1.0
        out[self.played] = 0.0
        return out.astype(np.float32)

    def explain(self, item: int) -> str | None:
        if self.played[item] or not self.history:
            return super().explain(item)
        last = self.history[-1].item
        if (
            self.catalogue.artist[item]
            and self.catalogue.artist[item] == self.catalogue.artist[last]
        ):
            return f"new to you, by the artist of {self.catalogue.describe(last)}"
        return super().explain(item)


def _factories() -> dict[str, Callable[[], Recommender]]:
    found: dict[str, Callable[[], Recommender]] = {
        "most-played": MostPlayed,
        "recent": Recent,
        "markov": Markov,
        "item-knn": ItemKNN,
        "session-knn": SessionKNN,
        "content": Content,
        "random-unplayed": RandomUnplayed,
        "unplayed-same-artist": UnplayedSameArtist,
    }
    if baselines_mf.available():
        found["mf"] = baselines_mf.MatrixFactorisation
    return found


def baseline_names() -> list[str]:
    """Every baseline available here (``mf`` only when ``implicit`` is installed)."""
    return list(_factories())


def make_baseline(name: str) -> Recommender:
    """A fresh, unfitted baseline by its DESIGN.md name."""
    factories = _factories()
    if name not in factories:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(factories)}")
    return factories[name]()


def fit_baseline(name: str, plays: list[Play], catalogue: Catalogue) -> Recommender:
    rec = make_baseline(name)
    rec.fit(plays, catalogue)
    return rec
