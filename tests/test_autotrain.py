"""When Segue retrains on its own: one decision (app.autotrain) for the player and `listen`."""

from __future__ import annotations

from player_plugin.app import autotrain
from player_plugin.app.autotrain import Autotrain
from player_plugin.app.settings import Settings
from player_plugin.recommend.model_eval import MIN_LISTENS
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


def history(db, track: int, listens: int = MIN_LISTENS) -> None:
    """*listens* listened plays before T0, taken by an earlier training attempt."""
    with db.atomic():
        for k in range(listens):
            play(db, track, k - listens)
    autotrain.mark_attempt(db)


def test_after_new_plays_then_counted_again_from_the_attempt(db):
    tracks = [add_track(db, n) for n in range(3)]
    history(db, tracks[0])
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
    history(db, track)
    settings = Settings(retrain_policy="idle")
    assert autotrain.due(db, settings, idle=True, playing=False) is None  # nothing new
    play(db, track, 0)
    assert autotrain.due(db, settings, idle=True, playing=True) is None  # still playing
    assert autotrain.due(db, settings, idle=False, playing=False) is None  # not idle yet
    assert autotrain.due(db, settings, idle=True, playing=False) == "while idle"
    manual = Settings(retrain_policy="manual", retrain_after_plays=1)
    assert autotrain.due(db, manual, idle=True, playing=False) is None


def test_never_due_before_the_history_holds_enough_listens_for_a_model(db):
    """Before 500 listens training would only say "not enough history yet" every few
    plays: it is not started (skips do not count; the listen that completes the history
    makes it due)."""
    tracks = [add_track(db, n) for n in range(3)]
    history(db, tracks[0], MIN_LISTENS - 2)
    plays = Settings(retrain_policy="plays", retrain_after_plays=3)
    idle = Settings(retrain_policy="idle")
    for k in range(3):  # skipped after 5 s
        log_play(db, tracks[1], started_at=T0 + k * 300_000, ms_played=5_000, reason="skipped")
    assert autotrain.new_plays(db) == 3
    assert autotrain.due(db, plays, idle=False, playing=True) is None
    assert autotrain.due(db, idle, idle=True, playing=False) is None
    play(db, tracks[2], 3)  # one listen short
    assert autotrain.due(db, plays, idle=False, playing=True) is None
    play(db, tracks[2], 4)
    assert autotrain.due(db, plays, idle=False, playing=True) == "after new plays"
    assert autotrain.due(db, idle, idle=True, playing=False) == "while idle"


def test_the_headless_runner_retrains_on_its_thread_when_due(db, db_path):
    tracks = [add_track(db, n) for n in range(3)]
    history(db, tracks[2])
    Settings(retrain_policy="plays", retrain_after_plays=2).save(db)
    runner = Autotrain(db_path)
    play(db, tracks[0], 0)
    assert runner.check() is None and runner.thread is None
    play(db, tracks[1], 1)
    assert runner.check() == "after new plays"
    assert autotrain.new_plays(db) == 0  # the attempt took the plays it had
    runner.thread.join(120)
    # The real retrain ran to its end on that thread: a model trained on the 502 listens
    assert not runner.running and runner.last is not None, runner.last
    assert runner.last.model_id is not None and runner.last.reason
    runner.stop()
    play(db, tracks[2], 2)
    play(db, tracks[0], 3)
    assert runner.check() is None  # stopped: never starts again
