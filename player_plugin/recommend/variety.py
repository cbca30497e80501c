"""How much variety this listener wants, learned from their own plays.

The re-ranker once applied one idea of variety to everyone (nothing from the last ten
plays, no artist twice in three). Listeners differ: some replay the track they just heard,
some play whole albums. :class:`VarietyProfile` measures, over the listener's recent
listening, how often the next listen replays one of the ten plays before it, how many
times one artist comes back within ten listens, and how often a listen is a first play.
The re-ranker uses it as the middle of the familiar ↔ discover dial (:func:`dial_rules`).
Until there are enough listens to tell, the default profile replays nothing just played.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play, PlayLog

RECENT = 10  # "just played": the last ten plays (the evaluation's repeat rate uses the same)
LIST = 10  # the length of list the profile describes
WINDOW = 5000  # learn from this many of the newest plays
MIN_LISTENS = 50  # fewer listens than this: the default profile
ARTIST_QUANTILE = 90  # the artist cap: this percentile of one artist's count in ten listens

DEFAULT_ARTIST_CAP = 3  # one artist's listens within LIST, until the listener's own is known


@dataclass(frozen=True, slots=True)
class VarietyProfile:
    """A listener's habits, each a share of their listens or a count within ten."""

    repeat_share: float = 0.0  # listens that replay one of the RECENT plays before them
    artist_cap: int = DEFAULT_ARTIST_CAP  # one artist's plays in LIST listens (90th pct.)
    fresh_share: float = 0.2  # listens that are the first play of a track
    listens: int = 0  # how many listens it was learned from (0: the default)

    @property
    def repeat_slots(self) -> int:
        """How many just-played tracks a list of LIST may hold, as this listener replays."""
        return int(np.floor(self.repeat_share * LIST + 0.5))

    @classmethod
    def learn(cls, plays: Sequence[Play], catalogue: Catalogue) -> VarietyProfile:
        """The profile of the newest WINDOW plays (the default when too few are listens)."""
        start = max(0, len(plays) - WINDOW)
        seen = np.zeros(len(catalogue), dtype=bool)
        seen[_items(plays, start)] = True
        recent: deque[int] = deque((p.item for p in plays[max(0, start - RECENT) : start]), RECENT)
        repeats = fresh = 0
        artists: list[int] = []
        for play in plays[start:]:
            if play.listened:
                repeats += play.item in recent
                fresh += not seen[play.item]
                artists.append(int(catalogue.artist[play.item]))
            seen[play.item] = True
            recent.append(play.item)
        n = len(artists)
        if n < MIN_LISTENS:
            return cls()
        return cls(
            repeat_share=repeats / n,
            artist_cap=_artist_cap(artists),
            fresh_share=fresh / n,
            listens=n,
        )


@dataclass(slots=True)
class VarietyWindow:
    """The profile of the newest WINDOW plays kept up to date as plays arrive:
    :meth:`profile` equals :meth:`VarietyProfile.learn` over every play observed, at a
    few operations per play (the serving state, fitted once, observes new plays for
    days). What :meth:`~VarietyProfile.learn` finds of each listen depends only on the
    plays before it (a replay of the ten before? a first play? one artist's most listens
    among the last ten?), so it is kept per play for the plays in the window, and the
    window's sums follow it as plays come in and fall out."""

    seen: np.ndarray  # bool per catalogue item: played before
    recent: deque  # the last RECENT plays' items
    listened_artists: deque  # the last LIST + 1 listens' artists (one kept for a take-back)
    # per play in the window (oldest first): a listen? a replay? a first play? and, for
    # a listen, one artist's most listens among the last LIST listens
    listens: deque
    repeats: deque
    firsts: deque
    peaks: deque
    totals: list  # over the window's listens: [listens, repeats, first plays]
    # how many of the window's listens had each peak (index: the peak, 0..LIST)
    peak_counts: list
    cached: VarietyProfile | None = None

    @classmethod
    def start(cls, plays: Sequence[Play], catalogue: Catalogue) -> VarietyWindow:
        """The window after *plays* (oldest first), built as :meth:`VarietyProfile.learn`
        reads them: the plays before the window only mark tracks as played."""
        begin = max(0, len(plays) - WINDOW - max(RECENT, LIST))
        seen = np.zeros(len(catalogue), dtype=bool)
        seen[_items(plays, begin)] = True
        window = cls(
            seen=seen,
            recent=deque(maxlen=RECENT),
            listened_artists=deque(maxlen=LIST + 1),
            listens=deque(),
            repeats=deque(),
            firsts=deque(),
            peaks=deque(),
            totals=[0, 0, 0],
            peak_counts=[0] * (LIST + 1),
        )
        for play in plays[begin:]:
            window.observe(play, int(catalogue.artist[play.item]))
        return window

    def observe(self, play: Play, artist: int) -> None:
        """One more play (oldest first), by *artist* (its catalogue code)."""
        listened = bool(play.listened)
        repeat = listened and play.item in self.recent
        first = listened and not bool(self.seen[play.item])
        peak = 0
        if listened:
            self.listened_artists.append(artist)
            peak = _peak(self.listened_artists)
        self._push(listened, repeat, first, peak)
        self.seen[play.item] = True
        self.recent.append(play.item)
        while len(self.listens) > WINDOW:
            self._pop()
        self.cached = None

    def reclassify_last(self) -> None:
        """The last play observed as a listen was not one (a skip): take it back from the
        listens (it stays played, and among the last plays)."""
        if not self.listens or not self.listens[-1]:
            return
        listened, repeat, first, peak = (
            q.pop() for q in (self.listens, self.repeats, self.firsts, self.peaks)
        )
        self._count(listened, repeat, first, peak, -1)
        self.listened_artists.pop()
        self.listens.append(False)
        self.repeats.append(False)
        self.firsts.append(False)
        self.peaks.append(0)
        self.cached = None

    def profile(self) -> VarietyProfile:
        """:meth:`VarietyProfile.learn` of every play observed."""
        if self.cached is None:
            self.cached = self._profile()
        return self.cached

    def _profile(self) -> VarietyProfile:
        n, repeats, firsts = self.totals
        if n < MIN_LISTENS:
            return VarietyProfile()
        return VarietyProfile(repeats / n, cap_of_counts(self._counts()), firsts / n, n)

    def _counts(self) -> list[int]:
        """How many of the window's listens have each peak (index: the peak), all but the
        first LIST - 1 (their last ten listens reach back before the window): the counts
        of :func:`peaks_of` the window's listens."""
        counts = list(self.peak_counts)
        skipped = 0
        for listened, peak in zip(self.listens, self.peaks, strict=True):
            if skipped == LIST - 1:
                break
            if listened:
                counts[peak] -= 1
                skipped += 1
        return counts

    def _push(self, listened: bool, repeat: bool, first: bool, peak: int) -> None:
        self.listens.append(listened)
        self.repeats.append(repeat)
        self.firsts.append(first)
        self.peaks.append(peak)
        self._count(listened, repeat, first, peak, +1)

    def _pop(self) -> None:
        listened, repeat, first, peak = (
            q.popleft() for q in (self.listens, self.repeats, self.firsts, self.peaks)
        )
        self._count(listened, repeat, first, peak, -1)

    def _count(self, listened: bool, repeat: bool, first: bool, peak: int, sign: int) -> None:
        if listened:
            self.totals[0] += sign
            self.totals[1] += sign * repeat
            self.totals[2] += sign * first
            self.peak_counts[peak] += sign


def _items(plays: Sequence[Play], stop: int) -> np.ndarray:
    """The items of ``plays[:stop]`` (a :class:`PlayLog`'s read from its column: no play
    made for each of a million)."""
    if isinstance(plays, PlayLog):
        return np.frombuffer(plays.items[:stop], dtype=np.int64)
    return np.fromiter((p.item for p in plays[:stop]), np.int64, stop)


def _peak(artists: deque) -> int:
    """The most listens one known artist has among the last LIST of *artists*."""
    last = list(artists)[-LIST:]
    known = Counter(a for a in last if a)
    return max(known.values(), default=1)


def _artist_cap(artists: list[int]) -> int:
    """The ARTIST_QUANTILE percentile, over every LIST consecutive listens, of the most
    listens one (known) artist has among them; at least 1."""
    return _cap(peaks_of(artists))


def peaks_of(artists: list[int]) -> list[int]:
    """For every LIST consecutive listens (by their *artists*), the most listens one
    known artist has among them (1 when none is known)."""
    counts: list[int] = []
    window: Counter[int] = Counter()
    for k, artist in enumerate(artists):
        window[artist] += 1
        if k >= LIST:
            gone = artists[k - LIST]
            window[gone] -= 1
            if not window[gone]:
                del window[gone]
        if k >= LIST - 1:
            known = [c for a, c in window.items() if a]
            counts.append(max(known, default=1))
    return counts


def cap_of_counts(counts: Sequence[int]) -> int:
    """:func:`_cap` of the peaks these *counts* say (``counts[v]``: how many are v),
    without listing them: numpy's linear percentile (``np.percentile``'s default: the
    value at ``(n - 1) * q`` in sorted order, its neighbours interpolated as numpy does)
    worked out on the counts, in the same float operations (a test compares the two)."""
    n = sum(counts)
    if not n:
        return DEFAULT_ARTIST_CAP
    at = (n - 1) * (ARTIST_QUANTILE / 100)
    lower = min(math.floor(at), n - 1)
    gamma = at - lower if at < n - 1 else at + 1  # numpy's weight past the end (unused)
    a = b = _nth(counts, lower)
    if at < n - 1:
        b = _nth(counts, lower + 1)
    diff = b - a
    value = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return max(1, math.ceil(value))


def _nth(counts: Sequence[int], k: int) -> int:
    """The k-th (0-based) of the values *counts* say, in sorted order."""
    for value, count in enumerate(counts):
        if k < count:
            return value
        k -= count
    raise IndexError(k)


def _cap(peaks: Sequence[int] | np.ndarray) -> int:
    """The artist cap of these peaks: their ARTIST_QUANTILE percentile, rounded up."""
    if not len(peaks):
        # (VarietyProfile.artist_cap is a slot descriptor, not the default: slots=True)
        return DEFAULT_ARTIST_CAP
    return max(1, int(np.ceil(np.percentile(peaks, ARTIST_QUANTILE))))


@dataclass(frozen=True, slots=True)
class DialRules:
    """What one dial position asks of the list."""

    discover: float | None  # the share of never-played tracks; None: as the scores say
    repeat_slots: int  # just-played tracks the list may hold
    at_most: bool = False  # *discover* is a ceiling (as the scores say below it), not a share


DIAL_POSITIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
MIDDLE = 0.5


def dial_rules(dial: float, profile: VarietyProfile) -> DialRules:
    """The familiar (0) ↔ discover (1) dial: the middle is the listener's own mix (the
    scores decide, with as many replays as the listener makes); towards familiar, at most
    a shrinking share of first plays (none at 0); towards discover, a growing share of
    them (all at 1) and fewer replays."""
    dial = min(max(float(dial), 0.0), 1.0)
    slots = profile.repeat_slots
    if abs(dial - MIDDLE) < 1e-9:
        return DialRules(None, slots)
    if dial < MIDDLE:
        return DialRules(profile.fresh_share * dial / MIDDLE, slots, at_most=True)
    towards = (dial - MIDDLE) / (1.0 - MIDDLE)
    share = profile.fresh_share + (1.0 - profile.fresh_share) * towards
    return DialRules(share, int(np.floor(slots * (1.0 - towards) + 0.5)))
