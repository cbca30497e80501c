"""The record every history parser yields, whatever the export format."""

from __future__ import annotations

from dataclasses import dataclass

from player_plugin.domain.listen import Reason


@dataclass(frozen=True, slots=True)
class HistoryPlay:
    """One past play from an export, normalised: start time in ms UTC, text as given."""

    started_at: int  # ms since the epoch, UTC: when the play *started*
    artist: str
    title: str
    album: str | None = None
    ms_played: int | None = None
    duration_ms: int | None = None
    reason: Reason | None = None  # completed / skipped / stopped / error, when known
    skipped: bool | None = None
    shuffle: bool | None = None
    mbid: str | None = None  # MusicBrainz recording id
    listener: str | None = None  # multi-listener datasets (Last.fm-1K, MSSD)


@dataclass(frozen=True, slots=True)
class Malformed:
    """A row that could not be read: where, and why."""

    where: str  # e.g. "scrobbles.csv line 17"
    why: str
