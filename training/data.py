"""Training examples from a play history: one per target play, with sampled candidates.

Each example is the state just before a target play, encoded by the serving code
(:class:`player_plugin.recommend.features.HistoryState`): the session tower's inputs and,
for the target (column 0) and its negatives, the history features. Negatives mix hard ones
(recently played tracks, the last track's Markov successors, tracks by the last artists,
tracks skipped in this session — skips are negatives as well as inputs) with uniform ones.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend import features as F


@dataclass
class Examples:
    hist_items: np.ndarray  # int64[P, L], -1 = padding
    hist_outcome: np.ndarray  # int64[P, L]
    hist_gap: np.ndarray  # int64[P, L]
    context: np.ndarray  # float32[P, C]
    cand_items: np.ndarray  # int64[P, K+1], column 0 is the target
    cand_feat: np.ndarray  # float16[P, K+1, F]
    cand_seen: np.ndarray  # bool[P, K+1]: appeared in the history before (ID known)
    cand_logw: np.ndarray  # float32[P, K+1]: log importance weight (0 for target and hard)
    times: np.ndarray  # int64[P]: when the target started
    weight: np.ndarray  # float32[P]: loss weight
    listened: np.ndarray  # bool[P]: the target was a listen (what evaluation predicts)

    def __len__(self) -> int:
        return len(self.times)

    def take(self, index: np.ndarray) -> Examples:
        return Examples(*(getattr(self, f)[index] for f in self.__dataclass_fields__))

    def head(self, stop: int) -> Examples:
        """The first *stop* examples: views of these arrays, not a copy (a quarter of a
        GB on a 42.7k-play history)."""
        return Examples(*(getattr(self, f)[:stop] for f in self.__dataclass_fields__))

    def after(self, start: int) -> Examples:
        """The examples from *start* on: views (where a later chunk is written)."""
        return Examples(*(getattr(self, f)[start:] for f in self.__dataclass_fields__))

    @staticmethod
    def empty(capacity: int, candidates: int) -> Examples:
        """Room for *capacity* examples of *candidates* candidates each, not yet written:
        the rows are filled in place as examples are made (a large array's pages take
        memory only once written, so room for every play that could be a target costs
        only the examples made)."""
        p, k, seq = capacity, candidates, F.SEQ_LEN
        return Examples(
            hist_items=np.empty((p, seq), dtype=np.int64),
            hist_outcome=np.empty((p, seq), dtype=np.int64),
            hist_gap=np.empty((p, seq), dtype=np.int64),
            context=np.empty((p, F.N_CONTEXT), dtype=np.float32),
            cand_items=np.empty((p, k), dtype=np.int64),
            cand_feat=np.empty((p, k, F.N_ITEM_FEATURES), dtype=np.float16),
            cand_seen=np.empty((p, k), dtype=bool),
            cand_logw=np.empty((p, k), dtype=np.float32),
            times=np.empty(p, dtype=np.int64),
            weight=np.empty(p, dtype=np.float32),
            listened=np.empty(p, dtype=bool),
        )


# Hard and played-track negatives fill this share of an example's negatives; the rest are
# drawn from the whole catalogue, where a library's never-played tracks are (with fewer
# draws the model over-scored them: measured on the validation split with distractors)
SEEN_SHARE = 0.7


FEATURE_BLOCK = 1024  # examples whose candidates' features are computed together
MIRRORS = 1 << 16  # sparse rows kept as arrays while the examples are built


class Cancelled(Exception):
    """Training was asked to stop."""


class MostPlayedLately:
    """The tracks most played lately (plays decayed with a 30-day time constant, as the
    history feature ``log_dec_30d``), the top few kept as plays arrive. A track's decayed
    count at a time ``now`` is ``dec30 * exp(-(now - dec_t) / tau)``: ranked at any one
    time by ``log(dec30) + dec_t / tau``, which no time changes and a play only raises —
    so the top is updated per play instead of ranking the whole catalogue per example."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.top: dict[int, float] = {}  # item -> its rank key

    def played(self, state: F.HistoryState, item: int) -> None:
        key = math.log(state.dec30[item]) + state.dec_t[item] / (30 * F.DAY_MS)
        top = self.top
        if item in top or len(top) < self.size:
            top[item] = key
            return
        lowest = min(top, key=top.__getitem__)
        if key > top[lowest]:
            del top[lowest]
            top[item] = key

    def items(self) -> list[int]:
        """Most played first."""
        return sorted(self.top, key=self.top.__getitem__, reverse=True)


class SeenItems:
    """Tracks in the order of their first play, as a growing array (drawn from by index)."""

    def __init__(self) -> None:
        self.array = np.empty(1024, dtype=np.int64)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, item: int) -> None:
        if self.size == len(self.array):
            self.array = np.concatenate([self.array, np.empty_like(self.array)])
        self.array[self.size] = item
        self.size += 1

    def drawn(self, uniform: Uniform, n: int) -> list[int]:
        """*n* of them drawn uniformly, with replacement."""
        return self.array[uniform.below(self.size, n)].tolist()


class Uniform:
    """Uniform random numbers in [0, 1) handed out from blocks drawn ahead: each example
    draws a few dozen in several small draws, and one call of numpy's generator costs
    more than the numbers (``integers`` 8 µs for 12 of them)."""

    BLOCK = 1 << 14

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.block = rng.random(self.BLOCK)
        self.at = 0

    def take(self, n: int) -> np.ndarray:
        if self.at + n > len(self.block):
            self.block = self.rng.random(max(self.BLOCK, n))
            self.at = 0
        self.at += n
        return self.block[self.at - n : self.at]

    def below(self, high: int, n: int) -> np.ndarray:
        """*n* whole numbers drawn uniformly from 0 … *high* - 1."""
        return (self.take(n) * high).astype(np.int64)


def _some_of(members: np.ndarray, size: int, uniform: Uniform) -> list[int]:
    """*size* distinct members drawn uniformly (Floyd's algorithm), in random order: as
    ``rng.choice(members, size, replace=False)`` draws them, at a third of its cost (it
    took 15 µs, up to four times per example)."""
    u = uniform.take(2 * size).tolist()
    m = len(members)
    chosen: list[int] = []
    for n, j in enumerate(range(m - size, m)):
        t = int(u[n] * (j + 1))
        chosen.append(j if t in chosen else t)
    order = sorted(range(size), key=u[size:].__getitem__)
    return [int(members[chosen[i]]) for i in order]


def _negatives(
    state: F.HistoryState,
    target: int,
    k: int,
    uniform: Uniform,
    by_artist: dict[int, np.ndarray],
    blind: bool,
    hard_share: float,
    seen_items: SeenItems,
    lately: MostPlayedLately,
) -> tuple[np.ndarray, np.ndarray]:
    """Hard negatives first (up to ``hard_share`` of *k*), then tracks drawn uniformly from
    those already played (so the features of the whole played catalogue are represented,
    not only of recent tracks), then uniformly from the whole catalogue."""
    # Hard pools in order of preference, as (items, log weight): a random k of a pool of
    # P stands for P / k of its pool, as the uniform negatives below do for theirs (a
    # sampled-softmax correction); whole pools are taken with weight 1. Every random draw
    # is made whether or not its pool is reached (the draws that follow stay the same);
    # the pools that cost work without drawing are computed only when reached.
    pools: list[tuple[Callable[[], Iterable[int]], float]] = [(lambda: state.recent_items(16), 0.0)]
    prev = state.ses_listened[-1] if state.ses_listened else None
    if prev is not None and prev in state.trans:
        row = state.trans[prev]
        pools.append((lambda: sorted(row, key=row.__getitem__, reverse=True)[:8], 0.0))
    if not blind:
        pools.append((lambda: state.ses_skips.counts, 0.0))

    def sample(members: np.ndarray) -> None:
        size = min(4, len(members))
        drawn = _some_of(members, size, uniform)
        pools.append((lambda: drawn, math.log(len(members) / size)))

    if state.plays:
        # where a first play competes: the last artist's tracks not played yet
        last = state.plays[-1][0]
        members = by_artist.get(int(state.artist[last]))
        if members is not None:
            unplayed = members[~state.seen[members]]
            if len(unplayed):
                sample(unplayed)
    artists: list[int] = []
    for item, *_ in reversed(state.plays[-10:]):
        a = int(state.artist[item])
        if a and a not in artists:
            artists.append(a)
        if len(artists) >= 3:
            break
    for a in artists:
        members = by_artist.get(a)
        if members is not None:
            sample(members)

    pools.append((lately.items, 0.0))
    # the pools' tracks in order, each once (with its first pool's weight), the target
    # left out, until the hard share is reached (one track at least, as ever)
    need = max(int(k * hard_share), 1)
    taken: dict[int, float] = {target: 0.0}
    for pool, weight in pools:
        if len(taken) > need:
            break
        taken |= {item: weight for item in pool() if item not in taken}
    out = list(taken)[1 : need + 1]
    hard_w = list(taken.values())[1 : need + 1]
    n_hard = len(out)
    n_seen = max(int(k * SEEN_SHARE) - n_hard, 0) if len(seen_items) > 2 * k else 0
    if n_seen:  # one call draws what n calls of one draw each would
        out.extend(seen_items.drawn(uniform, n_seen))
    n_all = k - len(out)
    if n_all > 0:
        out.extend(uniform.below(state.n, n_all).tolist())
    # Sampled-softmax correction: a uniformly drawn negative stands for 1/q of its pool,
    # so the loss estimates the full softmax and a flexible scorer cannot learn the
    # sampling design instead of the ranking.
    logw = np.zeros(k, dtype=np.float32)
    logw[:n_hard] = hard_w
    if n_seen:
        logw[n_hard : n_hard + n_seen] = np.log(len(seen_items) / n_seen)
    if n_all:
        logw[k - n_all :] = np.log(state.n / n_all)
    items = np.asarray(out[:k], dtype=np.int64)
    logw[items == target] = -np.inf
    return items, logw


def build_examples(
    plays: Sequence[Play],
    catalogue: Catalogue,
    *,
    blind: bool,
    negatives: int,
    seed: int,
    hard_share: float = 0.75,
    first_target: int = 1,
    other_weight: float = 0.0,
    new_weight: float = 1.0,
    cancel: threading.Event | None = None,
    into: Examples | None = None,
) -> Examples:
    """Examples for every target play from index *first_target* on. Targets are listened
    plays (a skip-blind model cannot tell, so every play is a target for it); with
    *other_weight* > 0 the other plays are targets too, with that loss weight. Written
    into the first rows of *into* when given (room for every play from *first_target*
    on; its views are returned), else into arrays made for them: each example's rows go
    straight to their place — no list of small arrays joined at the end, no second copy
    of the candidates' features (a third of the trainer's peak memory)."""
    k1 = negatives + 1
    room = max(0, len(plays) - max(first_target, 1))  # the first play has no history
    out = Examples.empty(room, k1) if into is None else into
    if len(out) < room:
        raise ValueError(f"room for {len(out)} examples, {room} may come")
    uniform = Uniform(np.random.default_rng(seed))
    state = F.HistoryState(catalogue, blind=blind)
    # a pass over a whole history reads the rows of every session's last plays: kept
    # (4% of the build on the 42.7k-play history), a row is not made into arrays again
    # whenever its track comes back
    state.max_mirrors = MIRRORS
    order = np.argsort(catalogue.artist, kind="stable")
    codes = np.asarray(catalogue.artist)[order]
    by_artist: dict[int, np.ndarray] = {}
    if len(order):
        cuts = np.flatnonzero(np.diff(codes)) + 1
        for group in np.split(order, cuts):
            a = int(catalogue.artist[group[0]])
            if a:
                by_artist[a] = group
    ends: list[int] = []  # the plays observed before each example (its session rows')
    batch = F.FeatureBatch(k1)  # the candidates' features, computed a block at a time
    featured = 0  # examples whose features are written
    seen_items = SeenItems()
    lately = MostPlayedLately()
    p = 0  # examples made
    for index, play in enumerate(plays):
        if cancel is not None and index % 512 == 0 and cancel.is_set():
            raise Cancelled
        listened = blind or play.listened
        if index >= first_target and state.plays and (listened or other_weight > 0):
            negs, logw = _negatives(
                state,
                play.item,
                negatives,
                uniform,
                by_artist,
                blind,
                hard_share,
                seen_items,
                lately,
            )
            cand = np.concatenate([[play.item], negs])
            ends.append(len(state.plays))
            out.context[p] = state.context()
            out.cand_items[p] = cand
            out.cand_logw[p] = np.concatenate([[0.0], logw])
            batch.add(state, cand)
            if len(batch) == FEATURE_BLOCK:
                featured = _write_features(batch, out, featured)
            out.cand_seen[p] = state.seen[cand]
            out.times[p] = play.started_at
            weight = 1.0 if listened else other_weight
            out.weight[p] = weight * (new_weight if not state.seen[play.item] else 1.0)
            out.listened[p] = listened
            p += 1
        if not state.seen[play.item]:
            seen_items.add(play.item)
        state.observe(play)
        lately.played(state, play.item)
    _write_features(batch, out, featured)
    # the session tower's rows, as session_inputs reads them, for every example at once
    hist = F.session_rows(state.play_rows(), ends, first=True)
    out.hist_items[:p], out.hist_outcome[:p], out.hist_gap[:p] = hist
    return out.head(p)


def _write_features(batch: F.FeatureBatch, out: Examples, at: int) -> int:
    """The batch's features (float16, as stored) written at example *at* on; the next
    example to write."""
    calls = len(batch)
    columns = batch.columns()  # (the batch is emptied)
    rows = out.cand_feat[at : at + calls].reshape(-1, F.N_ITEM_FEATURES, copy=False)
    rows[...] = columns
    return at + calls
