"""Helpers every command shares: the user-error type, opening the store, printing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from player_plugin.domain.errors import SegueError
from player_plugin.store.db import StoreError, open_db


class UserError(SegueError):
    """A problem the user can fix; printed as one line, no traceback."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def store(args: argparse.Namespace):
    """The database named by ``--db`` (or the default), migrated; a clear error if not."""
    try:
        return open_db(args.db)
    except StoreError as exc:
        raise UserError(str(exc)) from exc


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
    help: str,
) -> argparse.ArgumentParser:
    """Add a sub-command that takes the common options and runs *handler(args)*."""
    parser = subparsers.add_parser(name, parents=[common], help=help, description=help)
    parser.set_defaults(handler=handler)
    return parser
