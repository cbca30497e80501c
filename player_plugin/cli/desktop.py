"""`segue install-desktop [--remove]`: the desktop entry and icon, for this user.

Writes ``$XDG_DATA_HOME/applications/segue.desktop`` (default ``~/.local/share``) and the
icon, so Segue appears in the desktop's launcher and its MPRIS widgets show its icon;
``--remove`` takes them away again. ``--json``: ``{"desktop_file", "icon", "exec"}`` or
``{"removed": [...]}``.
"""

from __future__ import annotations

import argparse

from player_plugin.app.desktop_entry import DesktopEntryError, install, remove
from player_plugin.cli.common import UserError, add_command, emit


def run(args: argparse.Namespace) -> int:
    try:
        if args.remove:
            removed = remove()
            text = "\n".join(f"removed {p}" for p in removed) or "nothing to remove"
            emit(args, {"removed": [str(p) for p in removed]}, text)
            return 0
        done = install()
    except DesktopEntryError as exc:
        raise UserError(f"cannot install the desktop entry: {exc}") from exc
    emit(
        args,
        done.as_json(),
        f"desktop entry: {done.desktop_file}\nicon: {done.icon}\nstarts: {done.exec_line}",
    )
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "install-desktop", run)
    parser.add_argument("--remove", action="store_true", help="remove the entry and icon")
