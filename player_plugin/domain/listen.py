"""The one rule for every play: listened, skipped, browsing, stopped (DESIGN.md).

Importers, the play logger, the trainer and evaluation all call :func:`classify` (or
:func:`is_listened`), so "a listen" means the same thing everywhere.
"""

from __future__ import annotations

from typing import Literal

Outcome = Literal["listened", "skipped", "browsing", "stopped", "error"]
Reason = Literal["completed", "skipped", "stopped", "error"]

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
        return "listened"
    if reason in ("error", "stopped"):
        return reason
    if ms_played < BROWSE_MS:
        return "browsing"
    return "skipped"


def default_reason(ms_played: int, duration_ms: int | None) -> Reason:
    """The end reason a script gets when it does not say: completed if listened."""
    return "completed" if is_listened(ms_played, duration_ms) else "skipped"
