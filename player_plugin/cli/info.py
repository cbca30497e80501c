"""`segue info PATH`: what Segue knows about one track (tags, plays, audio features)."""

from __future__ import annotations

import argparse
from typing import Any

from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.domain.paths import display, from_user, json_fields
from player_plugin.store.features import track_features
from player_plugin.store.plays import track_stats
from player_plugin.store.tracks import FILE_COLUMNS, track_by_path

# What `segue info` shows of a track row: the file's fields, not Segue's bookkeeping.
INTERNAL_COLUMNS = ("path_text", "mtime_ns", "match_key", "signature")
FIELDS = ("id", *(c for c in FILE_COLUMNS if c not in INTERNAL_COLUMNS), "missing")


def describe(db, path: bytes) -> dict[str, Any]:
    """The ``segue info --json`` object for the track at *path* (UserError if unknown)."""
    track = track_by_path(db, path)
    if track is None:
        raise UserError(f"not in the library: {display(path)} (scan its folder first)")
    data: dict[str, Any] = json_fields(track["path"])
    data.update({key: track.get(key) for key in FIELDS})
    data.update(track_stats(db, track["id"]))
    data["features"] = track_features(db, track["id"])
    return data


def _text(data: dict[str, Any]) -> str:
    lines = [data["path"]]
    for key, value in data.items():
        if key in ("path", "path_b64") or value in (None, [], ""):
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    db = store(args)
    data = describe(db, from_user(args.path))
    emit(args, data, _text(data))
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "info", run, "what Segue knows about one track")
    parser.add_argument("path", metavar="PATH", help="the track's file (b64:... for raw bytes)")
