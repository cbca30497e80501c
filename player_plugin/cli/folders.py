"""`segue folders [add|remove PATH...]`: the library folders (scanned and watched).

With no action it lists them (``--json``: ``{"folders": [{"path", "path_b64"?, "exists",
"tracks"}]}``). ``add`` registers folders without scanning them (the player rescans its
folders in the background; ``segue scan PATH`` scans and adds at once); ``remove`` stops
scanning and watching a folder — its tracks and their plays stay. A path may be given as
``b64:`` + base64 of its bytes, for names that are not UTF-8.
"""

from __future__ import annotations

import argparse

from player_plugin.app.folders import FolderError, add_folders, folder_report, remove_folder
from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.domain.paths import display, from_user, json_fields
from player_plugin.domain.words import count


def _listing(db) -> tuple[dict, str]:
    report = folder_report(db)
    data = {"folders": [f.as_json() for f in report]}
    if not report:
        return data, "No library folders yet: `segue scan FOLDER` or `segue folders add FOLDER`."
    lines = []
    for f in report:
        state = count(f.tracks, "track") if f.exists else "not there now"
        lines.append(f"{display(f.path)}  ({state})")
    return data, "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.action is not None and not args.paths:
        raise UserError(f"segue folders {args.action}: give at least one PATH")
    db = store(args, create=args.action == "add")
    try:
        extra: dict = {}
        if args.action == "add":
            added = add_folders(db, [from_user(p) for p in args.paths])
            extra = {"added": [json_fields(f) for f in added]}
        elif args.action == "remove":
            removed = [remove_folder(db, from_user(p)) for p in args.paths]
            extra = {"removed": [json_fields(f) for f in removed]}
        data, text = _listing(db)
    except FolderError as exc:
        raise UserError(str(exc)) from exc
    finally:
        db.close()
    emit(args, {**data, **extra}, text)
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "folders", run)
    parser.add_argument("action", nargs="?", choices=("add", "remove"), help="add or remove")
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="folders; b64:... for a name's raw bytes"
    )
