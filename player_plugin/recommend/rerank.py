"""The re-ranker over any recommender: the listener's own variety, no recent skips, a dial.

Rules, in order: nothing the listener hid ("never", or "not now" until it expires);
nothing skipped ``skip_limit`` times since its last listen within ``skip_days``; at most
``repeat_slots`` of the last ``exclude_last`` plays (the current track among them) and at
most ``artist_cap`` tracks by one artist in the list; optionally no artist twice within
``artist_window`` suggestions (with ``artist_after_current`` the current track counts as
the one before the first). Left unset (None), the slots and the cap are the listener's
own (:class:`~player_plugin.recommend.variety.VarietyProfile`, learned in ``fit``), and
the familiar ↔ discover ``dial`` moves the share of never-played tracks around the
listener's own mix (``discover`` sets that share outright). A re-ranker that *follows*
keeps that profile up to date as plays arrive (:class:`VarietyWindow`: what serving needs,
equal to learning it afresh); one that does not keeps what it learned at fit (what an
evaluation needs: the training window's). When the rules leave too few
tracks, the artist rules give way first. A list that holds tracks of one album offers
them in the album's order, and an album played through goes on with its next track
(:mod:`~player_plugin.recommend.album_order`).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from player_plugin.domain.catalogue import Catalogue, tie_breaker
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play, PlayLog
from player_plugin.recommend.album_order import in_album_order
from player_plugin.recommend.variety import (
    MIDDLE,
    DialRules,
    VarietyProfile,
    VarietyWindow,
    dial_rules,
)

DAY_MS = 24 * 3600 * 1000


@dataclass
class RerankSettings:
    exclude_last: int = 10  # "just played": the last this many plays
    repeat_slots: int | None = None  # just-played tracks a list may hold; None: the listener's
    artist_cap: int | None = None  # tracks by one artist in a list; None: the listener's; 0: any
    artist_window: int = 0  # no artist twice within this many suggestions (0: off)
    artist_after_current: bool = False
    skip_limit: int = 2
    skip_days: float = 30.0
    dial: float = MIDDLE  # familiar (0) ↔ discover (1); the middle is the listener's own mix
    discover: float | None = None  # the share of never-played tracks outright (overrides dial)
    pool: int = 500  # how many of the best-scored tracks the rules pick from

    @classmethod
    def from_mapping(cls, values: dict | None) -> RerankSettings:
        """Settings from a dict (e.g. the store's settings); unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


class Reranker:
    """Keeps what the rules need (recent plays, recent skips, played tracks) as plays
    arrive, and turns a score vector into an ordered list."""

    def __init__(
        self, catalogue: Catalogue, settings: RerankSettings | None = None, *, follow: bool = False
    ) -> None:
        self.catalogue = catalogue
        self.settings = settings or RerankSettings()
        self.recent: deque[int] = deque(maxlen=max(1, self.settings.exclude_last))
        self.last_two: deque[int] = deque(maxlen=2)  # the two last plays' items
        self.skips: defaultdict[int, list[int]] = defaultdict(list)  # since the last listen
        # items with skip_limit skips or more in self.skips -> the skip_limit-th newest of
        # them: such an item was skipped that often of late when that skip is recent
        self.often: dict[int, float] = {}
        self.played = np.zeros(len(catalogue), dtype=bool)
        # equal scores in a fixed order that says nothing about the tracks (catalogue order
        # is the order tracks were added: in a history-built catalogue, the order of
        # first plays, which would leak the future into an evaluation)
        self.ties = tie_breaker(catalogue.track_ids)
        self.now = 0
        self.last: tuple[Play, list[int] | None] | None = None  # and the skips a listen cleared
        self.learned = VarietyProfile()  # the profile learned at fit (not following)
        self.variety = VarietyWindow.start([], catalogue) if follow else None

    @property
    def profile(self) -> VarietyProfile:
        """The listener's variety the rules follow (see the module text)."""
        return self.variety.profile() if self.variety is not None else self.learned

    def fit(self, plays: Sequence[Play]) -> Reranker:
        """Observe *plays* (oldest first) and learn the listener's variety from them."""
        if self.variety is not None:
            self.variety = VarietyWindow.start(plays, self.catalogue)
        else:
            self.learned = VarietyProfile.learn(plays, self.catalogue)
        if isinstance(plays, PlayLog):
            self._remember_all(plays)
            return self
        for play in plays:
            self._remember(play)
        return self

    def _remember_all(self, plays: PlayLog) -> None:
        """``_remember`` each of *plays*, read from their columns: the same state, no
        play made (a dial moved at a million plays: 2.5 s so, with the plays made)."""
        items = plays.items
        if not items:
            return
        self.played[np.frombuffer(items[:], dtype=np.int64)] = True
        self.now = max(self.now, max(plays.starts))
        self.recent.extend(items[-(self.recent.maxlen or 1) :])
        self.last_two.extend(items[-2:])
        cleared = None
        for item, start, code in zip(items, plays.starts, plays.outcomes, strict=True):
            cleared = self._count(item, start, code)
        self.last = (plays[-1], cleared)

    def rules(self, dial: float | None = None) -> DialRules:
        """The share of never-played tracks and the replay slots a list gets now."""
        s = self.settings
        rules = dial_rules(s.dial if dial is None else dial, self.profile)
        if s.repeat_slots is not None:
            rules = DialRules(rules.discover, s.repeat_slots)
        if s.discover is not None:
            rules = DialRules(s.discover, rules.repeat_slots)
        return rules

    @property
    def artist_cap(self) -> int:
        """Tracks by one artist a list may hold (0: any number)."""
        cap = self.settings.artist_cap
        return self.profile.artist_cap if cap is None else cap

    def observe(self, play: Play) -> None:
        if self.variety is not None:
            self.variety.observe(play, int(self.catalogue.artist[play.item]))
        self._remember(play)

    def _remember(self, play: Play) -> None:
        """What the rules keep of a play (its variety aside)."""
        self.recent.append(play.item)
        self.last_two.append(play.item)
        self.played[play.item] = True
        self.now = max(self.now, play.started_at)
        self.last = (play, self._count(play.item, play.started_at, play.outcome))

    def _count(self, item: int, start: int, outcome: int) -> list[int] | None:
        """Count a play of *item* at *start* that ended as *outcome* (an
        :class:`Outcome`, or its value) against the item's skips; returns the skips a
        listen cleared."""
        cleared = None
        if outcome == Outcome.SKIPPED:
            times = self.skips[item]
            times.append(start)
            self._often(item, times)
        elif outcome == Outcome.LISTENED:
            cleared = self.skips.pop(item, None)
            self.often.pop(item, None)
        return cleared

    def reclassify_last(self, play: Play) -> bool:
        """The last play, observed as a listen while it played, ended as *play* says:
        count it so instead. False when the last play observed is not that one."""
        if self.last is None:
            return False
        before, cleared = self.last
        if (before.item, before.started_at) != (play.item, play.started_at) or not (
            before.listened
        ):
            return False
        if cleared is not None:
            self.skips[play.item] = cleared
            self._often(play.item, cleared)
        if self.variety is not None and not play.listened:
            self.variety.reclassify_last()
        self.last = (play, self._count(play.item, play.started_at, play.outcome))
        return True

    def _often(self, item: int, times: list[int]) -> None:
        """Note *item*'s ``skip_limit``-th newest skip once it has that many."""
        limit = self.settings.skip_limit
        if len(times) >= limit:
            self.often[item] = sorted(times)[-limit] if limit > 0 else math.inf

    def skipped_of_late(self, now_ms: int | None = None) -> set[int]:
        """Tracks skipped ``skip_limit`` times since their last listen, within the window:
        those whose ``skip_limit``-th newest skip is (one comparison a track, where
        counting each track's recent skips cost 1.3 ms a call at a million plays)."""
        now = self.now if now_ms is None else now_ms
        since = now - self.settings.skip_days * DAY_MS
        return {item for item, kth in self.often.items() if kth >= since}

    def excluded(self, hidden: Iterable[int] = (), now_ms: int | None = None) -> set[int]:
        """Items no rule lets through now (just-played tracks count against their slots
        instead)."""
        out = {int(i) for i in hidden}
        out.update(self.skipped_of_late(now_ms))
        return out

    def rerank(
        self,
        scores: np.ndarray,
        n: int,
        *,
        hidden: Iterable[int] = (),
        now_ms: int | None = None,
        discover: float | str | None = "settings",
        dial: float | None = None,
        follows: Sequence[int] = (),
    ) -> list[int]:
        """The best *n* items under the rules, best first. *discover* (a share, or None
        for as the scores say) and *dial* override the settings for this list; the list
        plays after *follows* (queued tracks, oldest first) when given, else after the
        last play."""
        s = self.settings
        rules = self.rules(dial)
        if discover != "settings":
            rules = DialRules(None if discover is None else float(discover), rules.repeat_slots)
        knob = rules.discover
        # a copy with NaN as -inf, in one pass; float32 scores stay float32 (ordered as in
        # float64, which holds each exactly: the same lists from half the bytes)
        values = np.fmax(np.asarray(scores), -np.inf)
        if values.dtype != np.float32:
            values = values.astype(np.float64, copy=False)
        blocked = self.excluded(hidden, now_ms)
        if blocked:
            values[np.fromiter(blocked, np.int64)] = -np.inf
        pool_size = min(len(values), max(s.pool, 4 * n))
        if pool_size == 0 or n <= 0:
            return []
        found = self._pools_fast(values, pool_size, widen=knob is not None)
        if found is None:
            found = self._pools(values, pool_size, widen=knob is not None)
        pool, extra = found
        if extra is not None:
            seen = set(pool.tolist())
            more = np.array([i for i in extra.tolist() if i not in seen], dtype=np.int64)
            pool = np.concatenate([pool, more])
        chosen = self._pick(pool, n, rules)
        if not self.catalogue.numbered:
            return chosen
        before = [*self.last_two, *follows][-2:]  # the two tracks the list plays after
        return self._in_album_order(chosen, pool, before, share=knob is not None)

    def _in_album_order(
        self, chosen: list[int], pool: np.ndarray, before: list[int], *, share: bool
    ) -> list[int]:
        """*chosen* in album order (:func:`in_album_order`) after the tracks *before* it
        (oldest first): the album's next track takes an album track's place only from the
        pool, when it is not just played and, where the dial sets a share of first plays
        (*share*), as new to the listener as the track it replaces."""
        current = before[-1] if before else None
        previous = before[-2] if len(before) > 1 else None

        def can_take(new: int, old: int) -> bool:
            if new in self.recent or not bool((pool == new).any()):
                return False
            return not share or bool(self.played[new]) == bool(self.played[old])

        return in_album_order(chosen, self.catalogue, current, previous, can_take)

    def _pools(
        self, values: np.ndarray, pool_size: int, *, widen: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The best *pool_size* items (finite, best first) and, when *widen*, the best
        *pool_size* never-played ones (never-played tracks may score -inf-ish low: their
        pool is widened so), from every item's score."""
        pool = np.argpartition(-values, pool_size - 1)[:pool_size]
        pool = pool[np.lexsort((self.ties[pool], -values[pool]))]
        pool = pool[np.isfinite(values[pool])]
        if not widen:
            return pool, None
        fresh = np.flatnonzero(~self.played & np.isfinite(values))
        if len(fresh) > pool_size:  # sort only the best (all tied at the cut kept)
            cut = np.partition(values[fresh], len(fresh) - pool_size)[len(fresh) - pool_size]
            fresh = fresh[values[fresh] >= cut]
        extra = fresh[np.lexsort((self.ties[fresh], -values[fresh]))][:pool_size]
        return pool, extra if len(extra) else None

    def _pools_fast(
        self, values: np.ndarray, pool_size: int, *, widen: bool
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """:meth:`_pools` from the best ``pool_size`` items found by :func:`_best` and,
        when *widen*, the best ``pool_size`` never-played ones by
        :func:`_at_or_above_cut`, instead of partitioning every score (twice when
        widened). None when the answer is not certain to be the same (a small library,
        equal scores at the pool's cut or within it): the caller uses :meth:`_pools`
        then. (The never-played ones were once looked for among the best ``pool_size`` +
        as many as the listener played: a slow path where they played much of their
        library — 2.7 ms a list at 15% of 100,000 tracks, 0.5 ms now.)"""
        n = len(values)
        if pool_size < 1 or pool_size >= n or n < _FAST_MIN:
            return None
        found = _best(values, pool_size)
        if found is None:
            return None
        pool = self._sorted(found, values)
        if pool is None:
            return None
        pool = pool[np.isfinite(values[pool])]
        if not widen:
            return pool, None
        fresh = ~self.played
        fresh &= np.isfinite(values)
        fresh = np.flatnonzero(fresh)
        if len(fresh) <= pool_size:
            return None
        kept = _at_or_above_cut(values[fresh], pool_size)
        if kept is None:
            return None
        extra = fresh[kept]  # as _pools keeps them: every one tied at the cut, then sorted
        return pool, extra[np.lexsort((self.ties[extra], -values[extra]))][:pool_size]

    def _sorted(self, items: np.ndarray, values: np.ndarray) -> np.ndarray | None:
        """*items* best first (ties by the tie-breaker), or None when two have the same
        score and tie-breaker (their order would depend on where they came from)."""
        v = -values[items]
        order = np.argsort(v, kind="stable")
        if not bool((v[order[1:]] == v[order[:-1]]).any()):  # no equal scores: no tie to break
            return items[order]
        order = items[np.lexsort((self.ties[items], v))]
        v, t = values[order], self.ties[order]
        if bool(((v[1:] == v[:-1]) & (t[1:] == t[:-1])).any()):
            return None
        return order

    def _pick(self, pool: Sequence[int] | np.ndarray, n: int, rules: DialRules) -> list[int]:
        """Up to *n* items of *pool* (best first) under the rules. Below, an item is its
        position in the pool: its artist, whether it is new to the listener or just
        played are read from lists by position (plain ints: a pick is a few lookups)."""
        knob, slots = rules.discover, rules.repeat_slots
        window = self.settings.artist_window
        cap = self.artist_cap
        index = np.asarray(pool, dtype=np.int64)
        artist_at = self.catalogue.artist[index].tolist()
        fresh_mask = ~self.played[index]
        new_at = fresh_mask.tolist()
        recent = set()
        if self.settings.exclude_last > 0 and self.recent:
            just = np.sort(np.fromiter(self.recent, np.int64, len(self.recent)))
            found = just[np.minimum(np.searchsorted(just, index), len(just) - 1)] == index
            recent = set(np.flatnonzero(found).tolist())
        lead = []
        if self.recent and window > 0 and self.settings.artist_after_current:
            lead = [int(self.catalogue.artist[self.recent[-1]])]
        queues = {  # each in the pool's order
            "all": range(len(pool)),
            "familiar": np.flatnonzero(~fresh_mask).tolist(),
            "fresh": np.flatnonzero(fresh_mask).tolist(),
        }
        heads = dict.fromkeys(queues, 0)  # everything before a head is taken
        chosen: list[int] = []
        taken: set[int] = set()
        per_artist: defaultdict[int, int] = defaultdict(int)
        replays = fresh_so_far = 0

        def first(name: str, blocked: set[int]) -> int | None:
            queue = queues[name]
            while heads[name] < len(queue) and queue[heads[name]] in taken:
                heads[name] += 1
            for k in range(heads[name], len(queue)):
                at = queue[k]
                if at in taken or artist_at[at] in blocked:
                    continue
                if replays >= slots and at in recent:
                    continue
                return at
            return None

        while len(chosen) < n:
            blocked = set((lead + [artist_at[i] for i in chosen])[-window:]) if window else set()
            if cap:
                blocked.update(a for a, count in per_artist.items() if count >= cap)
            blocked.discard(0)
            if knob is None:
                order = ["all"]
            elif rules.at_most:  # as the scores say, until the first plays reach the ceiling
                order = ["all"] if fresh_so_far < _rounded(knob * n) else ["familiar", "fresh"]
            else:  # first plays spread through the list, each where its share is due
                want_fresh = fresh_so_far < _rounded(knob * (len(chosen) + 1))
                order = ["fresh", "familiar"] if want_fresh else ["familiar", "fresh"]
            pick = None
            for rule in (blocked, set()):  # the artist rule gives way last
                for name in order:
                    pick = first(name, rule)
                    if pick is not None:
                        break
                if pick is not None:
                    break
            if pick is None:
                break
            chosen.append(pick)
            taken.add(pick)
            per_artist[artist_at[pick]] += 1
            replays += pick in recent
            fresh_so_far += new_at[pick]
        return index[chosen].tolist()


_FAST_MIN = 4_096  # fewer scores than this: partition them all (as fast, and simplest)
_SAMPLE_STEP = 16


def _above_guess(values: np.ndarray, k: int) -> np.ndarray | None:
    """The places of the values at or above a threshold read from every 16th value, which
    should leave about 2k of them (None when that threshold is not finite): every value
    above it is among them, so when enough are, the best of all are found by partitioning
    a few thousand values instead of all of them."""
    sample = values[::_SAMPLE_STEP]
    rank = min(len(sample) - 1, 2 * k // _SAMPLE_STEP + 1)
    at = len(sample) - 1 - rank
    threshold = np.partition(sample, at)[at]
    if not np.isfinite(threshold):
        return None
    return np.flatnonzero(values >= threshold)


def _best(values: np.ndarray, k: int) -> np.ndarray | None:
    """The *k* highest-scored items (in no order), with no tie across that edge; None when
    there is one or the guess (:func:`_above_guess`) fails: when more than *k* are above
    it, the best *k* of them are the best *k* of all."""
    candidates = _above_guess(values, k)
    if candidates is None or len(candidates) <= k:
        return None
    inner = np.argpartition(-values[candidates], [k - 1, k])
    if values[candidates[inner[k - 1]]] == values[candidates[inner[k]]]:
        return None
    return candidates[inner[:k]]


def _at_or_above_cut(values: np.ndarray, k: int) -> np.ndarray | None:
    """The places of every value at or above the *k*-th highest (all tied at that cut
    kept), in order; None when the guess (:func:`_above_guess`) fails: when at least *k*
    are above it, the cut is among them and every value at or above it is too."""
    candidates = _above_guess(values, k)
    if candidates is None or len(candidates) < k:
        return None
    above = values[candidates]
    cut = np.partition(above, len(above) - k)[len(above) - k]
    return candidates[above >= cut]


def _rounded(x: float) -> int:
    """Half up (a share of 0.5 of one slot is due), with float noise ignored."""
    return int(np.floor(x + 0.5 + 1e-9))
