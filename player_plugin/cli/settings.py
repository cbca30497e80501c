"""`segue settings [list | get KEY | set KEY VALUE]`: the settings the GUI edits.

Scripts and headless hosts read and change the same settings as the Settings dialog
(:mod:`player_plugin.app.settings`): exclusions, variety, the familiar ↔ discover balance,
the execution provider, auto-play. Values are written as on the command line: numbers,
true/false, text; a list as a JSON array (``'["Jazz", "Podcast"]'``; genres may also be
given comma-separated). An unknown key or a value the setting cannot take: one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from player_plugin.app import settings as model
from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.domain.paths import display


def shown(value: Any) -> Any:
    """A value as printed: text with no lone surrogates (a folder that is not UTF-8)."""
    if isinstance(value, list):
        return [shown(v) for v in value]
    if isinstance(value, str):
        return display(value)
    return value


def as_text(value: Any) -> str:
    """One value on one line: text as it is, everything else (lists, true/false) as JSON."""
    value = shown(value)
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    action, rest = args.action, list(args.rest)
    wanted = {"list": 0, "get": 1, "set": 2}[action]
    if len(rest) != wanted:
        usage = {"list": "list", "get": "get KEY", "set": "set KEY VALUE"}[action]
        raise UserError(f"usage: segue settings {usage}")
    db = store(args)  # the defaults show before anything is scanned
    try:
        if action == "set":
            value = model.set_value(db, rest[0], model.parse(rest[0], rest[1]))
            data = {rest[0]: shown(value)}
        else:
            current = model.Settings.load(db)
            keys = model.names() if action == "list" else [rest[0]]
            for key in keys:
                model.store_key(key)  # an unknown key: one line, exit 2
            data = {key: shown(getattr(current, key)) for key in keys}
    except model.SettingError as exc:
        raise UserError(str(exc)) from exc
    if action == "get":
        text = as_text(data[rest[0]])
    else:
        width = max(len(key) for key in data)
        text = "\n".join(f"{key:<{width}} = {as_text(value)}" for key, value in data.items())
    emit(args, data, text)
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    keys = "\n".join(f"  {name}: {model.describe(name)['help']}" for name in model.names())
    parser = add_command(subparsers, common, "settings", run)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "settings:\n" + keys + "\n\nlists are JSON arrays, e.g. "
        'segue settings set excluded_genres \'["Jazz", "Podcast"]\''
    )
    parser.add_argument(
        "action", nargs="?", choices=("list", "get", "set"), default="list", help="default: list"
    )
    parser.add_argument("rest", nargs="*", metavar="KEY [VALUE]", help="the setting and value")
