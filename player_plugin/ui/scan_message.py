"""What the status bar says when a library scan ends, in the listener's words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from player_plugin.domain.words import count

if TYPE_CHECKING:  # the scanner (and mutagen) loads in the scan's own process, not here
    from player_plugin.library.scanner import ScanSummary


def scan_message(summary: ScanSummary) -> str:
    """One line: what changed in the library ("3 new tracks, 1 gone"), or that nothing did;
    files that could not be read are counted last."""
    parts = []
    if summary.added:
        parts.append(count(summary.added, "new track", "new tracks"))
    if summary.updated:
        parts.append(count(summary.updated, "track updated", "tracks updated"))
    if summary.moved:
        parts.append(count(summary.moved, "track moved", "tracks moved"))
    if summary.removed:
        parts.append(count(summary.removed, "track gone", "tracks gone"))
    if summary.errors:
        parts.append(count(summary.errors, "file could not be read", "files could not be read"))
    if not parts:
        return "Library up to date: nothing changed"
    return "Library scanned: " + ", ".join(parts)
