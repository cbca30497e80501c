"""The serving cache's catalogue check in one read: rows added to or removed from tracks
and features are counted by triggers (migration ``0004_library_changes``), whoever writes
them (issue 15: counting the rows of both tables cost 0.3-0.7 ms a suggestion).

- Every insert and delete, from this connection, another one, or another process (a raw
  ``sqlite3`` program that knows nothing of Segue), moves the mark; plays, settings and
  reads do not (no needless rebuilds).
- A track removed and another written under its id, with the same scan time, left the old
  mark (row counts, newest id, newest scan time) unchanged: the new one moves, and the
  serving cache rebuilds on it.
- A store opened without migrating still gets a mark (the rows are counted).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from test_model_fixtures import fill_store

from player_plugin.app.suggest import CACHE, suggestions
from player_plugin.store import open_db
from player_plugin.store.plays import log_play
from player_plugin.store.serving import catalogue_mark

MIN = 60_000


def _in_another_process(db_path, script: str) -> None:
    """Run SQL in a separate Python process with the bare sqlite3 module."""
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute('PRAGMA foreign_keys = ON')\n"
        f"c.executescript({script!r})\n"
        "c.commit()\n"
        "c.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db_path)], check=True)


def test_every_insert_and_delete_moves_the_mark_whoever_writes(db, db_path) -> None:
    fill_store(db, 50)
    start = catalogue_mark(db)
    assert catalogue_mark(db) == start  # reading changes nothing
    track = int(db.execute("SELECT min(id) FROM tracks").fetchone()[0])
    log_play(db, track, started_at=10**12, ms_played=1000, reason="completed")
    db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('x', '1')")
    db.conn.commit()
    assert catalogue_mark(db) == start  # plays and settings are not the catalogue

    _in_another_process(
        db_path,
        "INSERT INTO tracks (path, path_text, first_seen, last_scanned) "
        "VALUES (x'2f6e6577', '/new', 0, 0);",
    )
    added = catalogue_mark(db)
    assert added != start

    other = sqlite3.connect(db_path)  # another connection in this process
    other.execute(
        "INSERT INTO features (track_id, extractor_version, analysed_at) VALUES (?, 'v', 0)",
        [track],
    )
    other.commit()
    analysed = catalogue_mark(db)
    assert analysed != added
    other.execute("DELETE FROM features WHERE track_id = ?", [track])
    other.commit()
    other.close()
    assert catalogue_mark(db) not in (analysed, added, start)


def test_a_track_replaced_under_the_same_id_is_noticed_and_rebuilds(db, db_path) -> None:
    _cat, plays = fill_store(db, 200)
    now = plays[-1].started_at + 5 * MIN
    entry = CACHE.entry(db)
    suggestions(db, 8, now_ms=now)
    rebuilds = entry.rebuilds
    mark = catalogue_mark(db)
    victim, scanned = db.execute(
        "SELECT id, last_scanned FROM tracks WHERE id > (SELECT min(id) FROM tracks) "
        "ORDER BY id LIMIT 1"
    ).fetchone()
    counts = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("tracks", "features")]
    newest = db.execute("SELECT max(id), max(last_scanned) FROM tracks").fetchone()
    # another process removes the track and writes another file under its id and scan time
    _in_another_process(
        db_path,
        f"DELETE FROM tracks WHERE id = {victim};"
        "INSERT INTO tracks (id, path, path_text, title, artist, first_seen, last_scanned) "
        f"VALUES ({victim}, x'2f7265706c61636564', '/replaced', 'Replaced', 'Someone', 0, "
        f"{scanned});",
    )
    # what the old mark counted did not move ...
    assert [
        db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("tracks", "features")
    ] == counts
    assert db.execute("SELECT max(id), max(last_scanned) FROM tracks").fetchone() == newest
    # ... the new one does, and the cache rebuilds on it
    assert catalogue_mark(db) != mark
    suggestions(db, 8, now_ms=now)
    assert entry.rebuilds == rebuilds + 1
    assert entry.last_reason == "the catalogue changed"
    state = entry.state
    assert state is not None
    at = [int(t) for t in state.catalogue.track_ids].index(int(victim))
    assert state.catalogue.titles[at] == "Replaced"


def before_migration(path, counter: str) -> None:
    """A new store at *path* as it was before the migration that made *counter* (a
    change-counter table) and its triggers."""
    open_db(path).close()
    raw = sqlite3.connect(path)
    for (name,) in raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", [f"{counter}%"]
    ).fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute(f"DROP TABLE {counter}")
    raw.commit()
    raw.close()


def test_a_store_not_migrated_still_gets_a_mark(tmp_path) -> None:
    path = tmp_path / "old.db"
    before_migration(path, "library_changes")
    db = open_db(path, migrate=False)
    try:
        empty = catalogue_mark(db)
        fill_store(db, 10)
        assert catalogue_mark(db) != empty
        assert catalogue_mark(db)[0] == (
            db.execute("SELECT count(*) FROM tracks").fetchone()[0],
            0,
        )
    finally:
        db.close()
