"""When Segue retrains on its own: one decision (app.autotrain) for the player and `listen`."""

from __future__ import annotations

from player_plugin.app import autotrain
from player_plugin.app.autotrain import Autotrain
from player_plugin.app.settings import Settings
from player_plugin.store.plays import log_play

T0 = 1_700_000_000_000


def add_track(db, n: int) -> int:
    path = f"/music/A/B/{n:02d}.flac".encode()
    cursor = db.execute(
        "INSERT INTO tracks (path, path_text, title, artist, album, duration_ms, match_key, "
        "missing, first_seen, last_scanned) VALUES (?, ?, ?, 'A', 'B', 200000, ?, 0, 0, 0)",
        [path, path.decode(), f"Song {n}", f"a\x1fsong {n}"],
    )
    return int(cursor.lastrowid)


def play(db, track: int, k: int) -> None:
    log_play(db, track, started_at=T0 + k * 300_000, ms_played=200_000, reason="completed")


def test_after_new_plays_then_counted_again_from_the_attempt(db):
    tracks = [add_track(db, n) for n in range(3)]
    settings = Settings(retrain_policy="plays", retrain_after_plays=4)
    for k in range(3):
        play(db, tracks[k % 3], k)
    assert autotrain.new_plays(db) == 3
    assert autotrain.due(db, settings, idle=False, playing=True) is None
    play(db, tracks[0], 3)
    assert autotrain.due(db, settings, idle=False, playing=True) == "after new plays"
    autotrain.mark_attempt(db)  # training starts: these plays are taken
    assert autotrain.new_plays(db) == 0
    assert autotrain.due(db, settings, idle=False, playing=True) is None


def test_idle_only_when_nothing_plays_and_there_is_something_new(db):
    track = add_track(db, 0)
    settings = Settings(retrain_policy="idle")
    assert autotrain.due(db, settings, idle=True, playing=False) is None  # nothing new
    play(db, track, 0)
    assert autotrain.due(db, settings, idle=True, playing=True) is None  # still playing
    assert autotrain.due(db, settings, idle=False, playing=False) is None  # not idle yet
    assert autotrain.due(db, settings, idle=True, playing=False) == "while idle"
    manual = Settings(retrain_policy="manual", retrain_after_plays=1)
    assert autotrain.due(db, manual, idle=True, playing=False) is None


def test_the_headless_runner_retrains_on_its_thread_when_due(db, db_path):
    tracks = [add_track(db, n) for n in range(3)]
    Settings(retrain_policy="plays", retrain_after_plays=2).save(db)
    runner = Autotrain(db_path)
    play(db, tracks[0], 0)
    assert runner.check() is None and runner.thread is None
    play(db, tracks[1], 1)
    assert runner.check() == "after new plays"
    runner.thread.join(60)
    # Too little history to train a model: the real retrain says so, nothing is promoted.
    assert runner.last is not None and not runner.last.promoted
    assert "not enough history" in runner.last.reason
    assert autotrain.new_plays(db) == 0  # the attempt took the plays it had
    runner.stop()
    play(db, tracks[2], 2)
    play(db, tracks[0], 3)
    assert runner.check() is None  # stopped: never starts again
