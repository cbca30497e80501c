"""The shared state of the count-based recommenders: play counts, last play, a backoff.

:class:`CountingRecommender` is the base of the baselines (``baselines``, ``baselines_knn``,
``baselines_content``, ``baselines_mf``); it lives apart from the registry in ``baselines``
so that the registry can import every method at the top without a cycle.
"""

from __future__ import annotations

import math

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play
from player_plugin.recommend.base import Recommender

DAY_MS = 24 * 3600 * 1000

# How much each kind of play says "I like this" (skips count against the track).
OUTCOME_WEIGHT = {
    Outcome.LISTENED: 1.0,
    Outcome.STOPPED: 0.5,
    Outcome.BROWSING: 0.0,
    Outcome.SKIPPED: -0.3,
    Outcome.ERROR: 0.0,
}
BACKOFF = 1e-3  # share of the score range a backoff may add: it only breaks ties
# All-time listens, far below the decayed counts: they order tracks whose recent weight
# has decayed to nothing (else the order among old favourites would be arbitrary).
LONG_TERM = 1e-6


def normalise(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the maximum (all-zero stays zero); NaN becomes 0."""
    out = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    top = float(out.max()) if out.size else 0.0
    if top > 0:
        out = out / top
    return out


class DecayedCounts:
    """Per-item play weights decaying with a half-life, updated lazily in O(1) per play."""

    def __init__(self, n: int, half_life_days: float) -> None:
        self.tau = half_life_days * DAY_MS / math.log(2)
        self.acc = np.zeros(n, dtype=np.float64)
        self.ref = 0  # acc holds weights scaled by exp((t - ref) / tau)
        self.now = 0
        self._undo: tuple[int, float, int] | None = None  # the last add: item, acc, now before

    def add(self, item: int, at_ms: int, weight: float) -> None:
        if self.ref == 0:
            self.ref = at_ms
        self._undo = (item, float(self.acc[item]), self.now)
        self.now = max(self.now, at_ms)
        exponent = (at_ms - self.ref) / self.tau
        if exponent > 30:  # keep the numbers finite: rescale everything once in a while
            self.acc *= math.exp(-exponent)
            self.ref, exponent = at_ms, 0.0
            self._undo = None  # every weight moved: the last add cannot be taken back
        self.acc[item] += weight * math.exp(exponent)

    def readd_last(self, item: int, at_ms: int, weight: float) -> bool:
        """The last add (of *item* at *at_ms*) again with *weight* instead: the values
        then the same, bit for bit, as if it had been added so. False when it cannot be."""
        if self._undo is None or self._undo[0] != item:
            return False
        _, self.acc[item], self.now = self._undo
        self.add(item, at_ms, weight)
        return True

    def values(self) -> np.ndarray:
        """The decayed weights as of the newest play."""
        return self.acc * math.exp(-(self.now - self.ref) / self.tau) if self.ref else self.acc


class CountingRecommender(Recommender):
    """Shared state for count-based methods: play counts, last play, a backoff prior."""

    backoff_half_life_days = 1.0
    uses_audio = False  # whether fit reads the catalogue's audio (then take_audio refits)
    # Set by ``fit`` before ``reset``, ``observe`` and ``scores`` run: never None here.
    catalogue: Catalogue

    def reset(self) -> None:
        n = len(self.catalogue)
        self.listens = np.zeros(n, dtype=np.int32)
        self.played = np.zeros(n, dtype=bool)
        self.last_index = np.full(n, -1, dtype=np.int64)
        self.prior = DecayedCounts(n, self.backoff_half_life_days)

    def observe(self, play: Play) -> None:
        super().observe(play)
        self.played[play.item] = True
        self.last_index[play.item] = len(self.history) - 1
        if play.listened:
            self.listens[play.item] += 1
        self.prior.add(play.item, play.started_at, OUTCOME_WEIGHT.get(play.outcome, 0.0))

    def take_audio(self, catalogue: Catalogue, vectors: np.ndarray | None = None) -> bool:
        # the counts never read the audio; a method whose state does (content) says no
        if not self.uses_audio:
            self.catalogue = catalogue
        return not self.uses_audio

    def reclassify_last(self, play: Play) -> bool:
        """The last play, observed as a listen while it played, ended as *play* says (a
        skip, a stop): count it so in place, the state then what observing *play* would
        have given, so that the serving cache need not refit on every skip. False when the
        last play is not that one or the method cannot (the caller refits)."""
        last = self.history[-1] if self.history else None
        if (
            last is None
            or (last.item, last.started_at) != (play.item, play.started_at)
            or not last.listened
            or not self._reclassify(last, play)
        ):
            return False
        weight = OUTCOME_WEIGHT.get(play.outcome, 0.0)
        if not self.prior.readd_last(play.item, play.started_at, weight):
            return False
        self.listens[play.item] -= int(not play.listened)
        self.history[-1] = play
        return True

    def _reclassify(self, last: Play, play: Play) -> bool:
        """A method's own part of :meth:`reclassify_last` (*last* observed, *play* now):
        True when done. A method that does not say how cannot."""
        return False

    def with_backoff(self, main: np.ndarray) -> np.ndarray:
        """*main* scaled to [0, 1] plus the recency-weighted counts far below it."""
        return (normalise(main) + BACKOFF * self.popularity()).astype(np.float32)

    def popularity(self) -> np.ndarray:
        """Recency-weighted play counts in [0, 1], all-time listens breaking their ties."""
        recent = normalise(np.maximum(self.prior.values(), 0.0))
        return normalise(recent + LONG_TERM * self.listens)

    def in_session(self, play: Play, previous: Play | None) -> bool:
        return previous is not None and play.started_at - previous.started_at <= SESSION_GAP_MS
