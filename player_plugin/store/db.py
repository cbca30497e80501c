"""Opening the database: where it lives, the pragmas every connection gets, migrations.

One connection per thread: call :func:`open_db` in each thread (or process) that needs the
store. Every connection runs in WAL mode with a busy timeout and foreign keys on, so a
reader never blocks the writer and a kill at any moment leaves a database that opens.

Every write transaction starts as ``BEGIN IMMEDIATE`` (:meth:`SegueDatabase.atomic`): it
takes the write lock before its first read, so what it reads is what it writes against,
and a busy database makes it wait (up to the busy timeout) instead of failing "locked"
half way. A new database, its WAL/SHM files and a new folder for it are the user's only
(0600/0700); an existing database keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import sqlite_utils

from player_plugin.domain.errors import SegueError
from player_plugin.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 10_000

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SCHEMA_VERSION",
    "SegueDatabase",
    "StoreError",
    "default_db_path",
    "open_db",
]


class StoreError(SegueError):
    """The database cannot be opened or is not a Segue database."""


class SegueDatabase(sqlite_utils.Database):
    """A sqlite-utils database whose transactions take the write lock first."""

    @contextlib.contextmanager
    def atomic(self) -> Iterator[SegueDatabase]:
        """One write transaction (``BEGIN IMMEDIATE``); nested blocks are savepoints."""
        if self.conn.in_transaction:
            savepoint = f"segue_{secrets.token_hex(8)}"
            self.conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                raise
            else:
                self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise


def _private_folder(folder: Path) -> None:
    """Create *folder* (and missing parents) for the user only; an existing one is left."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for part in reversed(missing):
        try:
            part.mkdir(mode=0o700)
        except FileExistsError:
            continue


def _private_file(path: Path) -> None:
    """Create an empty database file readable by the user only, unless one exists (it
    keeps its mode). SQLite gives the WAL and SHM files the database file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3 will say why it cannot open it
    os.close(fd)


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
        try:
            _private_folder(db_path.parent)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {db_path.parent}: {exc.strerror or exc}"
            ) from exc
        _private_file(db_path)
    try:
        conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # No sqlite-utils plugins: Segue registers none, and looking for them reads every
        # installed package's entry points (~0.1 s of each command's start-up).
        db = SegueDatabase(conn, execute_plugins=False)
        if migrate:
            MIGRATIONS.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open database {db_path}: {exc}") from exc
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    """How many of Segue's migrations this database has applied."""
    return len(MIGRATIONS.applied(db))
