"""Opening the database: where it lives, the pragmas every connection gets, migrations.

One connection per thread: call :func:`open_db` in each thread (or process) that needs the
store. Every connection runs in WAL mode with a busy timeout and foreign keys on, so a
reader never blocks the writer and a kill at any moment leaves a database that opens.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import platformdirs
import sqlite_utils

from player_plugin.domain.errors import SegueError
from player_plugin.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 10_000

__all__ = ["BUSY_TIMEOUT_MS", "SCHEMA_VERSION", "StoreError", "default_db_path", "open_db"]


class StoreError(SegueError):
    """The database cannot be opened or is not a Segue database."""


def default_db_path() -> Path:
    """``$SEGUE_HOME/segue.db``, else the platform's user data folder."""
    home = os.environ.get("SEGUE_HOME")
    folder = Path(home) if home else Path(platformdirs.user_data_dir("segue", appauthor=False))
    return folder / "segue.db"


def open_db(
    path: str | os.PathLike | None = None, *, migrate: bool = True
) -> sqlite_utils.Database:
    """Open (creating if needed) the store at *path* and bring its schema up to date."""
    db_path = Path(path) if path is not None else default_db_path()
    if str(db_path) != ":memory:":
        db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        if migrate:
            MIGRATIONS.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open database {db_path}: {exc}") from exc
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    """How many of Segue's migrations this database has applied."""
    return len(MIGRATIONS.applied(db))
