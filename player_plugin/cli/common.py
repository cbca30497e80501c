"""Helpers every command shares: the user-error type, opening the store, printing, and the
one place where a failure becomes one line on stderr and an exit status.

Exit statuses: 0 success; 1 a failure with a clear cause (a :class:`SegueError`); 2 bad
input (a :class:`UserError`: a wrong argument, a file that is not a history); and for the
database (any ``sqlite3`` error, wherever it is raised): 75 busy (another program held it
too long; try again), 77 read-only, 74 disk full or I/O error, 65 corrupt or not a
database; 66 no database where a command only reads one (a mistyped ``--db``).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from player_plugin.cli import COMMANDS
from player_plugin.domain import validate
from player_plugin.domain.errors import SegueError
from player_plugin.store.db import StoreError, default_db_path, open_db

HELP = {name: line for name, _module, line in COMMANDS}  # each command's line of help

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DATA = 65  # corrupt, or not a database
EXIT_NOINPUT = 66  # no database where one is only read
EXIT_IO = 74  # disk full, I/O error
EXIT_BUSY = 75  # temporary: another program holds the database
EXIT_DENIED = 77  # read-only database or folder

# SQLite's primary result codes (the low byte of an extended code)
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


class UserError(SegueError):
    """A problem the user can fix; printed as one line, no traceback."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def sqlite_failure(exc: sqlite3.Error) -> tuple[str, int]:
    """One line for people and an exit status for a database error."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc).lower()
    if code in (_BUSY, _LOCKED) or "locked" in text or "busy" in text:
        return (
            "the database is busy (another program is writing to it); try again",
            EXIT_BUSY,
        )
    if code == _READONLY or "readonly" in text or "read-only" in text:
        return "the database is read-only: cannot record anything (check its permissions)", (
            EXIT_DENIED
        )
    if code == _FULL or "disk is full" in text:
        return "the disk is full: nothing was changed (free some space and retry)", EXIT_IO
    if code in (_CORRUPT, _NOTADB) or "malformed" in text or "not a database" in text:
        return (
            "the database file is damaged or not a Segue database "
            "(restore it from a backup, or start another with --db)",
            EXIT_DATA,
        )
    if code in (_IOERR, _CANTOPEN):
        return f"cannot read or write the database ({exc})", EXIT_IO
    return f"database error: {exc}", EXIT_FAILURE


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether *exc* says another connection held the database too long."""
    return sqlite_failure(exc)[1] == EXIT_BUSY


def failure(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit status for an error the CLI reports without a traceback;
    None for an error that is a bug."""
    if isinstance(exc, UserError):
        return str(exc), exc.status
    if isinstance(exc, StoreError) and isinstance(exc.__cause__, sqlite3.Error):
        line, status = sqlite_failure(exc.__cause__)
        text, cause = str(exc), str(exc.__cause__)
        head = text[: -len(cause)].rstrip(": ") if cause and text.endswith(cause) else text
        return f"{head}: {line}", status
    if isinstance(exc, SegueError):
        return str(exc), int(getattr(exc, "status", EXIT_FAILURE))
    if isinstance(exc, sqlite3.Error):
        return sqlite_failure(exc)
    return None


def database_path(args: argparse.Namespace) -> Path:
    """The database file ``--db`` names, or the default one; an empty name or a folder is
    refused (it would open the current folder as a database, or fail as a disk error)."""
    if args.db is None:
        return default_db_path()
    path = Path(user_path(args.db, "database path (--db)"))
    if path.is_dir():
        raise UserError(
            f"--db {path} is a folder: name the database file in it ({path / 'segue.db'})"
        )
    return path


def store(args: argparse.Namespace, *, create: bool = True):
    """The database named by ``--db`` (or the default), migrated; a clear error if not.
    With *create* False (commands that only read or change what is there) a database that
    does not exist is refused: a mistyped ``--db`` must not leave an empty database behind
    that answers "0 plays"."""
    path = database_path(args)
    if not create and not path.exists():
        raise UserError(
            f"no database at {path} (check --db; music comes in with `segue scan FOLDER`)",
            EXIT_NOINPUT,
        )
    try:
        return open_db(path)
    except StoreError as exc:
        mapped = failure(exc)
        if isinstance(exc.__cause__, sqlite3.Error) and mapped is not None:
            raise UserError(mapped[0], mapped[1]) from exc
        raise UserError(str(exc)) from exc


def user_path(text: str, what: str = "path") -> str:
    """A path argument that names something: an empty one (``""``) is refused rather than
    taken as the current folder."""
    if not text.strip() or text.strip() == "b64:":
        raise UserError(f"the {what} is empty")
    if "\x00" in text:
        raise UserError(f"the {what} holds a NUL byte")
    return text


def checked(check, value: object, what: str) -> int:
    """*value* passed through a :mod:`player_plugin.domain.validate` check; a failure is
    one line and exit status 2."""
    try:
        return check(value, what)
    except validate.InvalidValue as exc:
        raise UserError(str(exc)) from None


def emit(args: argparse.Namespace, data: Any, text: str | None = None) -> None:
    """JSON on stdout with ``--json``; otherwise *text* (or a readable dump of *data*)."""
    if args.json:
        json.dump(data, sys.stdout, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    elif text is not None:
        print(text)
    else:
        for key, value in data.items() if isinstance(data, dict) else enumerate(data):
            print(f"{key}: {value}")


def add_command(
    subparsers: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    name: str,
    handler,
) -> argparse.ArgumentParser:
    """Add the sub-command *name* that takes the common options and runs *handler(args)*;
    its line of help is the one in the command table (:data:`player_plugin.cli.COMMANDS`)."""
    help = HELP[name]
    parser = subparsers.add_parser(name, parents=[common], help=help, description=help)
    parser.set_defaults(handler=handler)
    return parser
