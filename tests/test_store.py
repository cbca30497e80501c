"""The store: pragmas, migrations, location, and that it survives reopening."""

from __future__ import annotations

import sqlite3

import pytest

from player_plugin.store import SCHEMA_VERSION, default_db_path, open_db
from player_plugin.store.db import StoreError, schema_version


def test_new_store_has_schema_and_pragmas(db):
    assert {"tracks", "plays", "scan_errors", "imports", "features", "models"} <= set(
        db.table_names()
    )
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert schema_version(db) == SCHEMA_VERSION


def test_reopening_applies_nothing_twice(db_path):
    open_db(db_path).close()
    db = open_db(db_path)
    names = [r["name"] for r in db.query("SELECT name FROM _sqlite_migrations")]
    assert len(names) == len(set(names)) == SCHEMA_VERSION


def test_location_follows_segue_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGUE_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "segue.db"


def test_not_a_database_is_a_clear_error(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        open_db(bogus)


def test_play_reason_and_source_are_checked(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO plays (started_at, reason) VALUES (0, 'exploded')")
