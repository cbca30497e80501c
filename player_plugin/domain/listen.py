"""The one rule for every play: listened, skipped, browsing, stopped (DESIGN.md).

Importers, the play logger, the trainer and evaluation all call :func:`classify` (or
:func:`is_listened`), so "a listen" means the same thing everywhere; a whole history read
at once goes through :func:`classify_columns`, the same rule over arrays. What a play was is an
:class:`Outcome`; how it ended (a :data:`Reason`) is the stored word of the plays table and
the CLI, and stays a string.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal, get_args

import numpy as np

Reason = Literal["completed", "skipped", "stopped", "error"]
REASONS: tuple[Reason, ...] = get_args(Reason)
REASON_CODES: dict[Reason, int] = {reason: code for code, reason in enumerate(REASONS, 1)}


def as_reason(value: object) -> Reason | None:
    """*value* when it is one of the :data:`REASONS`, else None (unknown or missing)."""
    for reason in REASONS:
        if value == reason:
            return reason
    return None


class Outcome(IntEnum):
    """What a play was, by the listen rule. Compare members, never their numbers or words:
    the CLI prints :attr:`label`; the session tower's codes are
    ``recommend.features.HISTORY_CODES``."""

    LISTENED = 1
    SKIPPED = 2
    BROWSING = 3
    STOPPED = 4
    ERROR = 5

    @property
    def label(self) -> str:
        """The word the CLI and messages use: ``"listened"``, ``"skipped"``..."""
        return self.name.lower()

    def __str__(self) -> str:
        return self.label

    def __format__(self, spec: str) -> str:
        return format(self.label, spec)

    @classmethod
    def parse(cls, value: Outcome | str) -> Outcome:
        """*value* as a member: a member, or its label (``"skipped"``); ValueError else."""
        if isinstance(value, cls):
            return value
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise ValueError(f"not a play outcome: {value!r}") from None


LISTEN_MIN_MS = 4 * 60 * 1000  # four minutes always counts
SHORT_TRACK_MS = 30 * 1000  # tracks this short count only when played to the end
BROWSE_MS = 5 * 1000  # ended sooner than this: browsing, not a skip
NO_DURATION_LISTEN_MS = 30 * 1000  # histories without durations (Spotify exports)


def is_listened(
    ms_played: int,
    duration_ms: int | None,
    reason: Reason | None = None,
    *,
    skipped: bool | None = None,
) -> bool:
    """Heard for half its length or four minutes; a track of 30 s or less counts when
    played to the end. Without a duration: played to the end, or not marked skipped and
    heard for at least 30 s."""
    if reason == "error":
        return False
    if duration_ms is None or duration_ms <= 0:
        if reason == "completed":
            return True
        return not skipped and ms_played >= NO_DURATION_LISTEN_MS
    if duration_ms <= SHORT_TRACK_MS:
        return reason == "completed" or ms_played >= duration_ms - 500
    return ms_played >= min(duration_ms / 2, LISTEN_MIN_MS)


def classify(
    ms_played: int,
    duration_ms: int | None,
    reason: Reason | None,
    *,
    skipped: bool | None = None,
) -> Outcome:
    """What a play was: ``listened`` wins; then error/stopped; then browsing (< 5 s) or
    skipped (the user moved on before the listen threshold)."""
    if is_listened(ms_played, duration_ms, reason, skipped=skipped):
        return Outcome.LISTENED
    if reason == "error":
        return Outcome.ERROR
    if reason == "stopped":
        return Outcome.STOPPED
    if ms_played < BROWSE_MS:
        return Outcome.BROWSING
    return Outcome.SKIPPED


def classify_columns(
    ms_played: np.ndarray, duration_ms: np.ndarray, reasons: np.ndarray, skipped: np.ndarray
) -> np.ndarray:
    """:func:`classify` of many plays at once, play by play the same answer: integer arrays
    of ms played and durations (≤ 0: unknown), the reasons' :data:`REASON_CODES` (0: none)
    and the skip flags; the outcomes' values (int8)."""
    ms = np.asarray(ms_played, dtype=np.int64)
    duration = np.asarray(duration_ms, dtype=np.int64)
    reasons = np.asarray(reasons)
    completed = reasons == REASON_CODES["completed"]
    error = reasons == REASON_CODES["error"]
    known = duration > 0
    listened = ~error & np.where(
        known,
        np.where(
            duration <= SHORT_TRACK_MS,
            completed | (ms >= duration - 500),
            ms >= np.minimum(duration / 2, LISTEN_MIN_MS),
        ),
        completed | (~np.asarray(skipped, dtype=bool) & (ms >= NO_DURATION_LISTEN_MS)),
    )
    return np.select(
        [listened, error, reasons == REASON_CODES["stopped"], ms < BROWSE_MS],
        [Outcome.LISTENED, Outcome.ERROR, Outcome.STOPPED, Outcome.BROWSING],
        Outcome.SKIPPED,
    ).astype(np.int8)


def default_reason(ms_played: int, duration_ms: int | None) -> Reason:
    """The end reason a script gets when it does not say: completed if listened."""
    return "completed" if is_listened(ms_played, duration_ms) else "skipped"
