"""One play as recommenders, the trainer and evaluation see it, and the session gap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


def plays_from_columns(
    items: Iterable[int],
    starts: Iterable[int],
    ms_played: Iterable[int],
    outcomes: Iterable[Outcome],
    sessions: Iterable[int],
) -> list[Play]:
    """``[Play(*row) for row in zip(...)]`` for columns of values that plays held (each
    outcome an :class:`Outcome` member, nothing to parse): the same plays, each field set
    through its slot instead of the frozen dataclass's ``__init__`` — a warm start unpacks
    every play of the history (a million: ≈ 1 s so, ≈ 2 s through ``__init__``)."""
    new = object.__new__
    set_item, set_start, set_ms, set_outcome, set_session = (
        getattr(Play, name).__set__ for name in Play.__slots__
    )
    out = []
    for item, start, ms, outcome, session in zip(
        items, starts, ms_played, outcomes, sessions, strict=True
    ):
        play = new(Play)
        set_item(play, item)
        set_start(play, start)
        set_ms(play, ms)
        set_outcome(play, outcome)
        set_session(play, session)
        out.append(play)
    return out
