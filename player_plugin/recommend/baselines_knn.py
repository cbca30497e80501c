"""Neighbourhood baselines: item co-occurrence kNN and session kNN (V-SKNN).

V-SKNN (Ludewig & Jannach, "Evaluation of session-based recommendation algorithms", 2018)
finds past sessions sharing tracks with the current one — recent tracks of the current
session weigh more — and scores each track by the similarity of the sessions it appears
in. It is the strongest simple method on music sessions in those studies.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.recommend.counting import CountingRecommender

# plays that do not make a track a neighbour (a stopped play still counts)
PASSED_OVER = (Outcome.SKIPPED, Outcome.BROWSING, Outcome.ERROR)


class ItemKNN(CountingRecommender):
    """Tracks played near each other (within a few plays in one session) are neighbours;
    cosine-normalised co-occurrence summed over the last few session tracks."""

    name = "item-knn"
    window = 2  # plays either side that count as "near"
    query_length = 3  # how many of the latest session plays ask for neighbours

    def reset(self) -> None:
        super().reset()
        self.cooc: defaultdict[int, dict[int, float]] = defaultdict(dict)
        self.occurrences = np.zeros(len(self.catalogue), dtype=np.float64)
        # what the last play's counting overwrote: (row, column, value before or None,
        # whether the row was there), so that a skip can take it back exactly
        self._undo: list[tuple[int, int, float | None, bool]] = []

    def observe(self, play: Play) -> None:
        previous = self.history[-1] if self.history else None
        if not self.in_session(play, previous):
            self._session_start = len(self.history)
        super().observe(play)
        self._undo = []
        if play.outcome in PASSED_OVER:
            return
        self.occurrences[play.item] += 1
        start = max(getattr(self, "_session_start", 0), len(self.history) - 1 - self.window)
        for distance, other in enumerate(reversed(self.history[start:-1]), start=1):
            if other.outcome in PASSED_OVER or other.item == play.item:
                continue
            weight = 1.0 / distance
            self._add(other.item, play.item, weight)
            self._add(play.item, other.item, weight)

    def _add(self, key: int, other: int, weight: float) -> None:
        existed = key in self.cooc
        row = self.cooc[key]
        before = row.get(other)
        self._undo.append((key, other, before, existed))
        row[other] = (before or 0.0) + weight

    def _reclassify(self, last: Play, play: Play) -> bool:
        if play.outcome not in PASSED_OVER:
            return True  # counted as a listen is: near its neighbours
        for key, other, before, existed in reversed(self._undo):
            row = self.cooc[key]
            if before is None:
                del row[other]
            else:
                row[other] = before
            if not existed:
                del self.cooc[key]
        self._undo = []
        self.occurrences[play.item] -= 1  # whole counts: exact
        return True

    def _query(self) -> list[tuple[int, float]]:
        session = self.session[-self.query_length :]
        return [(p.item, 1.0 / (len(session) - k)) for k, p in enumerate(session)]

    def scores(self) -> np.ndarray:
        main = np.zeros(len(self.catalogue), dtype=np.float64)
        norm = np.sqrt(np.maximum(self.occurrences, 1.0))
        for item, weight in self._query():
            row = self.cooc.get(item)
            if not row:
                continue
            keys = np.fromiter(row.keys(), np.int64, len(row))
            values = np.fromiter(row.values(), np.float64, len(row))
            main[keys] += weight * values / (norm[keys] * norm[item])
        return self.with_backoff(main)

    def explain(self, item: int) -> str | None:
        best, best_value = None, 0.0
        for other, weight in self._query():
            value = weight * self.cooc.get(other, {}).get(item, 0.0)
            if value > best_value:
                best, best_value = other, value
        if best is None:
            return None
        return f"often played near {self.catalogue.describe(best)}"


class SessionKNN(CountingRecommender):
    """V-SKNN: score tracks by the past sessions most like the current one."""

    name = "session-knn"
    k = 100  # neighbour sessions
    sample = 1000  # most recent past sessions per shared track considered
    query_length = 3  # latest plays of the current session that define it
    sequence = True  # weigh neighbours' tracks by how soon they came after the shared one
    before = 0.5  # ... tracks that came before it count this much of that
    recency_sessions: float | None = 300.0  # halve a neighbour's weight every R sessions back

    def reset(self) -> None:
        super().reset()
        self.sessions: list[np.ndarray] = []  # past sessions: unique items
        self.orders: list[np.ndarray] = []  # past sessions: items in play order
        self.sessions_of: defaultdict[int, list[int]] = defaultdict(list)
        self.current: list[int] = []
        self._neighbours: tuple[np.ndarray, np.ndarray] | None = None

    def _reclassify(self, last: Play, play: Play) -> bool:
        if play.outcome in (Outcome.BROWSING, Outcome.ERROR):  # it does not count then
            if not self.current or self.current[-1] != play.item:
                return False
            self.current.pop()
            self._neighbours = None
        return True

    def _close_session(self) -> None:
        if not self.current:
            return
        order = np.asarray(self.current, dtype=np.int64)
        items = np.unique(order)
        sid = len(self.sessions)
        self.sessions.append(items)
        self.orders.append(order)
        for item in items.tolist():
            self.sessions_of[item].append(sid)
        self.current = []

    def observe(self, play: Play) -> None:
        previous = self.history[-1] if self.history else None
        if not self.in_session(play, previous):
            self._close_session()
        super().observe(play)
        if play.outcome not in (Outcome.BROWSING, Outcome.ERROR):
            self.current.append(play.item)

    def _query(self) -> list[tuple[int, float]]:
        query = self.current[-self.query_length :]
        n = len(query)
        weights: dict[int, float] = {}
        for position, item in enumerate(query, start=1):
            weights[item] = max(weights.get(item, 0.0), position / n)  # linear decay
        return list(weights.items())

    def _find_neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        query = self._query()
        if not query or not self.sessions:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        ids, weights = [], []
        for item, weight in query:
            found = self.sessions_of.get(item)
            if found:
                chunk = found[-self.sample :]
                ids.append(np.asarray(chunk, dtype=np.int64))
                weights.append(np.full(len(chunk), weight))
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        all_ids = np.concatenate(ids)
        sims = np.bincount(all_ids, np.concatenate(weights), minlength=len(self.sessions))
        candidates = np.flatnonzero(sims)
        lengths = np.fromiter((len(self.sessions[s]) for s in candidates), np.float64)
        sim = sims[candidates] / np.sqrt(lengths * len(query))
        if self.recency_sessions:
            sim = sim * np.exp2(-(len(self.sessions) - 1 - candidates) / self.recency_sessions)
        if len(candidates) > self.k:
            top = np.argpartition(-sim, self.k - 1)[: self.k]
            candidates, sim = candidates[top], sim[top]
        return candidates, sim

    def scores(self) -> np.ndarray:
        candidates, sim = self._find_neighbours()
        self._neighbours = (candidates, sim)
        main = np.zeros(len(self.catalogue), dtype=np.float64)
        if len(candidates) and self.sequence and self.current:
            main += self._sequence_scores(candidates, sim)
        elif len(candidates):
            items = np.concatenate([self.sessions[s] for s in candidates])
            weights = np.repeat(sim, [len(self.sessions[s]) for s in candidates])
            main += np.bincount(items, weights, minlength=len(self.catalogue))
        return self.with_backoff(main)

    def _sequence_scores(self, candidates: np.ndarray, sim: np.ndarray) -> np.ndarray:
        """Each neighbour's tracks weighted by their distance from where it last played a
        track of the current session (the latest such track first)."""
        query = self.current[-self.query_length :]
        recency = {item: k for k, item in enumerate(query)}  # later = more recent
        items, weights = [], []
        for s, similarity in zip(candidates.tolist(), sim.tolist(), strict=True):
            order = self.orders[s]
            best_pos, best_rank = -1, -1
            for pos, item in enumerate(order.tolist()):
                rank = recency.get(item, -1)
                if rank >= best_rank and rank >= 0:
                    best_pos, best_rank = pos, rank
            distance = np.arange(len(order)) - best_pos
            w = np.where(
                distance > 0, 1.0 / np.maximum(distance, 1), self.before / (1.0 + np.abs(distance))
            )
            items.append(order)
            weights.append(similarity * w)
        return np.bincount(
            np.concatenate(items), np.concatenate(weights), minlength=len(self.catalogue)
        )

    def explain(self, item: int) -> str | None:
        candidates, _ = self._neighbours or self._find_neighbours()
        with_item = [s for s in candidates.tolist() if item in set(self.sessions[s].tolist())]
        if not with_item:
            return None
        # The current-session track that most of those sessions share.
        shared: dict[int, int] = {}
        for s in with_item:
            members = set(self.sessions[s].tolist())
            for other, _ in self._query():
                if other != item and other in members:
                    shared[other] = shared.get(other, 0) + 1
        if not shared:
            return None
        other = max(shared, key=lambda key: shared[key])
        count = shared[other]
        sessions = "a past session" if count == 1 else f"{count} past sessions"
        return f"played with {self.catalogue.describe(other)} in {sessions}"
