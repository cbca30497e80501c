"""The plugin logs every play from a scripted host's signals: played through, skipped,
stopped; a row exists from the moment a track starts; pausing logging records nothing."""

from __future__ import annotations

import pytest
from ui_support import scanned, write_library

from player_plugin.domain.listen import Outcome, classify
from player_plugin.hosts.base import MemoryHost
from player_plugin.ui.plugin import SeguePlugin
from player_plugin.ui.prefs import Prefs


@pytest.fixture
def library(tmp_path, db):
    tracks = scanned(db, write_library(tmp_path / "music", artists=2, per_artist=2)[0].parents[1])
    Prefs(autoplay=False, retrain_policy="manual").save(db)
    return tracks


@pytest.fixture
def plugin(qtbot, db_path, library):
    host = MemoryHost()
    clock = iter(range(1_800_000_000_000, 1_900_000_000_000, 1_000_000))
    plugin = SeguePlugin(host, db_path, clock=lambda: next(clock))
    yield plugin
    plugin.shutdown()


def plays(db):
    return list(db.query("SELECT * FROM plays ORDER BY id"))


def test_played_through_skipped_and_stopped_are_logged(plugin, db, library):
    host = plugin.host
    a, b, c = (bytes(t["path"]) for t in library[:3])
    host.play(a)
    host.finish(600, "completed")
    host.play(b)
    host.finish(300, "skipped")
    host.play(c)
    host.finish(50, "stopped")
    rows = plays(db)
    assert [r["track_id"] for r in rows] == [t["id"] for t in library[:3]]
    assert [r["reason"] for r in rows] == ["completed", "skipped", "stopped"]
    assert [r["ms_played"] for r in rows] == [600, 300, 50]
    assert all(r["source"] == "user" and r["ended_at"] is not None for r in rows)
    outcomes = [classify(r["ms_played"], r["duration_ms"], r["reason"]) for r in rows]
    assert outcomes[0] is Outcome.LISTENED and outcomes[2] is Outcome.STOPPED


def test_a_play_is_written_when_the_track_starts(plugin, db, library):
    plugin.host.play(bytes(library[0]["path"]))
    rows = plays(db)
    assert len(rows) == 1 and rows[0]["ended_at"] is None  # a crash now keeps the play


def test_pausing_play_logging_stops_new_plays(plugin, db, library):
    host = plugin.host
    host.play(bytes(library[0]["path"]))
    host.finish(600)
    plugin.set_logging_paused(True)
    host.play(bytes(library[1]["path"]))
    host.finish(600)
    assert len(plays(db)) == 1
    plugin.set_logging_paused(False)
    host.play(bytes(library[2]["path"]))
    host.finish(600)
    assert len(plays(db)) == 2


def test_queued_suggestion_is_logged_with_its_source(plugin, db, library):
    plugin.play_next(library[1]["id"])
    assert plugin.host.queue() == [bytes(library[1]["path"])]
    plugin.host.play(bytes(library[0]["path"]))
    plugin.host.finish(600, "completed")  # the host moves on to the queued suggestion
    rows = plays(db)
    assert [r["source"] for r in rows] == ["user", "suggestion"]


def test_a_track_outside_the_library_is_reported_not_logged(plugin, db, qtbot, tmp_path):
    with qtbot.waitSignal(plugin.status) as signal:
        plugin.host.play(str(tmp_path / "elsewhere.flac").encode())
    assert "Not in the library" in signal.args[0]
    assert plays(db) == []


def test_a_play_in_progress_records_how_far_it_got(qtbot, db_path, db, library):
    from player_plugin.hosts.reference import ReferencePlayer

    player = ReferencePlayer()
    plugin = SeguePlugin(player, db_path)
    try:
        player.play_path(bytes(library[0]["path"]))
        qtbot.waitUntil(lambda: player.heard_ms >= 200, timeout=5_000)
        plugin.touch()  # what the plugin's timer does every few seconds
        row = plays(db)[-1]
        assert row["ended_at"] is None and row["ms_played"] >= 200  # a crash now keeps it
    finally:
        player.shutdown()
        plugin.shutdown()
