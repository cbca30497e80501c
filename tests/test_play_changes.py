"""The serving cache's "were observed plays deleted or rematched?" in one read: a counter
bumped by triggers (migration ``0005_play_changes``) instead of counting every play on
every suggestion (3.2 ms at 1,000,000 plays, twice a call).

- A delete, a play's track changed (rematched, or unmatched) and a play written below the
  newest id (an undo putting rows back) move the mark, from any connection or process.
- New plays, a play ended or touched, sessions renumbered, reads: the mark stays (no
  needless rebuild of a state that takes seconds at that size).
- After each change the cached suggestions still equal the uncached ones.
- A store opened without migrating still gets a mark (the plays are counted).
"""

from __future__ import annotations

from test_library_changes import _in_another_process, before_migration
from test_model_fixtures import fill_store

from player_plugin.app.suggest import CACHE, suggestions
from player_plugin.store import open_db
from player_plugin.store.plays import end_play, log_play, resession, start_play, touch_play
from player_plugin.store.serving import observed_mark

MIN = 60_000


def _same(db, now: int) -> None:
    cached = [s.track_id for s in suggestions(db, 6, now_ms=now).items]
    assert cached == [s.track_id for s in suggestions(db, 6, now_ms=now, cached=False).items]


def test_only_changes_to_observed_plays_move_the_mark(db, db_path) -> None:
    _cat, plays = fill_store(db, 80)
    last = int(db.execute("SELECT max(id) FROM plays").fetchone()[0])
    track = int(db.execute("SELECT min(id) FROM tracks").fetchone()[0])
    now = plays[-1].started_at + 5 * MIN
    mark = observed_mark(db, last)
    assert observed_mark(db, last) == mark  # reading changes nothing
    pid = start_play(db, track, at_ms=now)
    touch_play(db, pid, ms_played=10_000)
    end_play(db, pid, ms_played=200_000, reason="completed", at_ms=now + 200_000)
    log_play(db, track, started_at=now + 300_000, ms_played=1000, reason="skipped")
    resession(db, now)
    assert observed_mark(db, last) == mark  # new plays, their ends, sessions: not a change

    _same(db, now + 400_000)
    entry = CACHE.entry(db)
    rebuilds = entry.rebuilds
    changes = [
        "DELETE FROM plays WHERE id = 3;",  # a privacy delete
        "UPDATE plays SET track_id = NULL WHERE id = 5;",  # unmatched
        f"UPDATE plays SET track_id = {track + 1} WHERE id = 5;",  # rematched
        "INSERT INTO plays (id, track_id, started_at, ms_played, reason, source) "
        f"VALUES (3, {track}, {plays[2].started_at}, 1000, 'completed', 'user');",  # undo
    ]
    for k, sql in enumerate(changes):
        before = observed_mark(db, last)
        _in_another_process(db_path, sql)
        assert observed_mark(db, last) != before, sql
        _same(db, now + 500_000 + k * MIN)
        assert entry.rebuilds == rebuilds + k + 1, sql  # seen, and rebuilt on it
    same = observed_mark(db, last)
    db.execute(f"UPDATE plays SET track_id = track_id WHERE id = {last}")  # no change
    db.conn.commit()
    assert observed_mark(db, last) == same


def test_a_store_not_migrated_still_gets_a_mark(tmp_path) -> None:
    path = tmp_path / "old.db"
    before_migration(path, "play_changes")
    db = open_db(path, migrate=False)
    try:
        fill_store(db, 20)
        last = int(db.execute("SELECT max(id) FROM plays").fetchone()[0])
        mark = observed_mark(db, last)
        assert mark[0] == 20  # the plays counted
        db.execute("DELETE FROM plays WHERE id = 2")
        db.conn.commit()
        assert observed_mark(db, last) != mark
    finally:
        db.close()
