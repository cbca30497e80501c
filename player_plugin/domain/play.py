"""One play as recommenders, the trainer and evaluation see it, and the session gap."""

from __future__ import annotations

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
