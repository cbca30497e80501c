"""One play as recommenders, the trainer and evaluation see it, a history of them kept as
columns (:class:`PlayLog`), and the session gap."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, MutableSequence
from dataclasses import dataclass
from itertools import starmap
from typing import overload

import numpy as np

from player_plugin.domain.listen import Outcome

SESSION_GAP_MS = 30 * 60 * 1000  # a new listening session after a 30-minute gap


@dataclass(frozen=True, slots=True)
class Play:
    """One play, as recommenders see it: which catalogue item, when, and how it ended."""

    item: int  # index into the catalogue
    started_at: int  # ms since the epoch, UTC
    ms_played: int = 0
    outcome: Outcome = Outcome.LISTENED
    session: int = 0

    def __post_init__(self) -> None:
        if type(self.outcome) is not Outcome:  # a label ("skipped") becomes its member
            object.__setattr__(self, "outcome", Outcome.parse(self.outcome))

    @property
    def listened(self) -> bool:
        return self.outcome is Outcome.LISTENED


_OUTCOMES: tuple[Outcome | None, ...] = tuple(
    Outcome(code) if code in Outcome._value2member_map_ else None
    for code in range(max(Outcome) + 1)
)
_SET_ITEM, _SET_START, _SET_MS, _SET_OUTCOME, _SET_SESSION = (
    getattr(Play, name).__set__ for name in Play.__slots__
)


def _made(item: int, start: int, ms: int, outcome: int, session: int) -> Play:
    """``Play(item, start, ms, outcome, session)`` for values a play held (*outcome* an
    :class:`Outcome` or its value, nothing to parse), each field set through its slot
    instead of the frozen dataclass's ``__init__``: half the time, and a warm start or a
    whole-history read makes a million of them."""
    play = object.__new__(Play)
    _SET_ITEM(play, item)
    _SET_START(play, start)
    _SET_MS(play, ms)
    _SET_OUTCOME(play, _OUTCOMES[outcome])
    _SET_SESSION(play, session)
    return play


def plays_from_columns(
    items: Iterable[int],
    starts: Iterable[int],
    ms_played: Iterable[int],
    outcomes: Iterable[Outcome],
    sessions: Iterable[int],
) -> list[Play]:
    """``[Play(*row) for row in zip(...)]`` for columns of values that plays held (each
    outcome an :class:`Outcome` member): the same plays, made by :func:`_made` (a million:
    ≈ 1 s so, ≈ 2 s through ``__init__``)."""
    return list(starmap(_made, zip(items, starts, ms_played, outcomes, sessions, strict=True)))


class PlayLog(MutableSequence[Play]):
    """A history of plays, oldest first, kept as five flat columns (item, start, ms played,
    outcome, session): a list of :class:`Play` that holds 33 bytes a play instead of ≈ 150
    (the object and its ints). Read and written as that list — each play read is made
    afresh, equal to the one stored (the last one is kept as it was given) — while the
    columns serve whole-history reads, the warm-start file and the session's start."""

    __slots__ = ("_last", "items", "ms", "outcomes", "sessions", "starts")

    def __init__(self, plays: Iterable[Play] = ()) -> None:
        self.items = array("q")
        self.starts = array("q")
        self.ms = array("q")
        self.outcomes = array("b")
        self.sessions = array("q")
        self._last: Play | None = None  # plays[-1], when known
        self.extend(plays)

    @classmethod
    def from_columns(cls, *columns: Iterable[int]) -> PlayLog:
        """The plays whose five columns (items, starts, ms played, outcome codes,
        sessions: arrays, numpy arrays or iterables of ints) :meth:`columns` gave;
        ValueError when their lengths differ or an outcome is none of
        :class:`Outcome`'s."""
        if len(columns) != 5:
            raise ValueError(f"{len(columns)} play columns, not 5")
        out = cls()
        for column, values in zip(out.columns_view(), columns, strict=True):
            if isinstance(values, np.ndarray):  # in one copy (a million plays: 5 ms)
                column.frombytes(np.ascontiguousarray(values, dtype=column.typecode).tobytes())
            else:
                column.extend(values)
        if len(set(map(len, out.columns_view()))) > 1:
            raise ValueError("play columns of different lengths")
        if any(
            not 0 <= code < len(_OUTCOMES) or _OUTCOMES[code] is None for code in set(out.outcomes)
        ):
            raise ValueError("play outcomes that are none of Outcome's")
        return out

    def columns(self) -> tuple[array, array, array, array, array]:
        """The five columns (items, starts, ms played, outcome codes, sessions), copied
        by slicing: a copy made holding the GIL, so a thread appending meanwhile (the
        warm-start save reads a served history without its lock) waits, where a buffer
        lent to numpy as it copied would make that append fail."""
        return tuple(column[:] for column in self.columns_view())  # type: ignore[return-value]

    def copy(self) -> PlayLog:
        return PlayLog(self)  # the columns extended in one go each, the last play kept

    def session_start(self, gap_ms: int = SESSION_GAP_MS) -> int:
        """The index of the current session's first play: the first after the last gap
        longer than *gap_ms* (0 with no plays)."""
        starts = self.starts
        start = len(starts) - 1
        while start > 0 and starts[start] - starts[start - 1] <= gap_ms:
            start -= 1
        return max(start, 0)

    # -- the list of plays ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> Play: ...
    @overload
    def __getitem__(self, index: slice) -> list[Play]: ...
    def __getitem__(self, index: int | slice) -> Play | list[Play]:
        if isinstance(index, slice):
            return list(
                map(
                    _made,
                    self.items[index],
                    self.starts[index],
                    self.ms[index],
                    self.outcomes[index],
                    self.sessions[index],
                )
            )
        n = len(self.items)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("play index out of range")
        if index == n - 1 and self._last is not None:
            return self._last
        return _made(
            self.items[index],
            self.starts[index],
            self.ms[index],
            self.outcomes[index],
            self.sessions[index],
        )

    @overload
    def __setitem__(self, index: int, play: Play) -> None: ...
    @overload
    def __setitem__(self, index: slice, play: Iterable[Play]) -> None: ...
    def __setitem__(self, index: int | slice, play: Play | Iterable[Play]) -> None:
        if isinstance(index, slice) or not isinstance(play, Play):
            raise TypeError("a PlayLog's plays are set one at a time")
        n = len(self.items)
        at = index + n if index < 0 else index
        if not 0 <= at < n:
            raise IndexError("play index out of range")
        row = array("q", (play.item, play.started_at, play.ms_played, play.session))  # or raise
        self.items[at], self.starts[at], self.ms[at], self.sessions[at] = row
        self.outcomes[at] = play.outcome
        if at == n - 1:
            self._last = play

    @overload
    def __delitem__(self, index: int) -> None: ...
    @overload
    def __delitem__(self, index: slice) -> None: ...
    def __delitem__(self, index: int | slice) -> None:
        for column in (self.items, self.starts, self.ms, self.outcomes, self.sessions):
            del column[index]
        self._last = None

    def insert(self, index: int, play: Play) -> None:
        if index >= len(self.items):
            self.append(play)
            return
        row = array("q", (play.item, play.started_at, play.ms_played, play.session))  # or raise
        for column, value in zip(
            (self.items, self.starts, self.ms, self.sessions), row, strict=True
        ):
            column.insert(index, value)
        self.outcomes.insert(index, play.outcome)

    def append(self, play: Play) -> None:
        try:
            self.items.append(play.item)
            self.starts.append(play.started_at)
            self.ms.append(play.ms_played)
            self.outcomes.append(play.outcome)
            self.sessions.append(play.session)
        except (TypeError, OverflowError):  # a field no column holds: none of it kept
            n = min(map(len, self.columns_view()))
            for column in self.columns_view():
                del column[n:]
            raise
        self._last = play

    def extend(self, plays: Iterable[Play]) -> None:
        if isinstance(plays, PlayLog):
            for mine, theirs in zip(self.columns_view(), plays.columns_view(), strict=True):
                mine.extend(theirs)
            self._last = plays._last if plays else self._last
            return
        for play in plays:
            self.append(play)

    def columns_view(self) -> tuple[array, array, array, array, array]:
        """The five columns themselves (not to be written)."""
        return self.items, self.starts, self.ms, self.outcomes, self.sessions

    def __iter__(self) -> Iterator[Play]:
        return map(_made, self.items, self.starts, self.ms, self.outcomes, self.sessions)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PlayLog):
            return self.columns_view() == other.columns_view()
        if isinstance(other, list):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PlayLog({len(self)} plays)"
