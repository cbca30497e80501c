"""The status bar's line after a scan names what changed in the listener's words."""

from __future__ import annotations

from player_plugin.library.scanner import ScanSummary
from player_plugin.ui.scan_message import scan_message


def test_nothing_changed_says_so():
    assert scan_message(ScanSummary(unchanged=36)) == "Library up to date: nothing changed"


def test_changes_are_counted_in_words():
    summary = ScanSummary(added=3, updated=1, moved=2, removed=1, errors=2, unchanged=9)
    assert scan_message(summary) == (
        "Library scanned: 3 new tracks, 1 track updated, 2 tracks moved, 1 track gone, "
        "2 files could not be read"
    )
    assert scan_message(ScanSummary(added=1, errors=1)) == (
        "Library scanned: 1 new track, 1 file could not be read"
    )
    assert scan_message(ScanSummary(added=12345)) == "Library scanned: 12,345 new tracks"
