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

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play

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
        for play in plays[:start]:
            seen[play.item] = True
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


def _artist_cap(artists: list[int]) -> int:
    """The ARTIST_QUANTILE percentile, over every LIST consecutive listens, of the most
    listens one (known) artist has among them; at least 1."""
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
    if not counts:
        # (VarietyProfile.artist_cap is a slot descriptor, not the default: slots=True)
        return DEFAULT_ARTIST_CAP
    return max(1, int(np.ceil(np.percentile(counts, ARTIST_QUANTILE))))


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
