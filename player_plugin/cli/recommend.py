"""`segue recommend`: what to play next for the current session, each with a reason.

The list is :func:`player_plugin.app.suggest.suggestions` with the stored settings: the
same the dock shows (the same exclusions, feedback and variety), under the dock's header
("10 suggestions from your listening patterns"); ``--json`` names the method and model."""

from __future__ import annotations

import argparse
import math

from player_plugin.app.source import source_of
from player_plugin.app.suggest import UnknownTrack, suggestions
from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.domain.paths import display, from_user, json_fields
from player_plugin.domain.words import count


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UserError("-n must be at least 1")
    db = store(args, create=False)
    after = from_user(args.after) if args.after else None
    try:
        result = suggestions(db, args.n, after=after)
    except UnknownTrack as exc:
        raise UserError(f"not in the library: {display(exc.path or b'')} (scan it first)") from exc
    items = [
        {
            **json_fields(s.path),
            "artist": s.artist,
            "title": s.title,
            "score": round(s.score, 6) if math.isfinite(s.score) else None,
            "reason": s.reason,
        }
        for s in result.items
    ]
    data = {"method": result.method, "model_id": result.model_id, "items": items}
    words = source_of(db, result.method, result.model_id).words
    lines = [f"{count(len(result.items), 'suggestion')} {words}"]
    for number, s in enumerate(result.items, start=1):
        name = f"{s.artist} – {s.title}" if s.artist else s.title
        lines.append(f"{number:2d}. {name}  ({s.reason})")
    if not result.items:
        lines.append("nothing to suggest yet: scan a music folder first (segue scan PATH)")
    emit(args, data, "\n".join(lines))
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "recommend", run)
    parser.add_argument("--after", metavar="PATH", help="suggest what follows this track")
    parser.add_argument("-n", type=int, default=10, metavar="N", help="how many (default 10)")
