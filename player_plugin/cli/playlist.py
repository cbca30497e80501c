"""`segue playlist [--from PATH] [-n 50] [--format m3u8|xspf|jspf] -o FILE`: a radio of N
tracks from the model, written as a playlist any player opens."""

from __future__ import annotations

import argparse

from player_plugin.app.playlist import FORMATS, format_for, walk, write
from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.domain.errors import SegueError
from player_plugin.domain.paths import from_user
from player_plugin.domain.words import count


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "playlist", run)
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write")
    parser.add_argument("-n", type=int, default=50, metavar="N", help="how many tracks (50)")
    parser.add_argument("--from", dest="start", metavar="PATH", help="start from this track")
    parser.add_argument(
        "--format", choices=FORMATS, help="the playlist format (default: by the file name)"
    )


def run(args: argparse.Namespace) -> int:
    if args.n <= 0:
        raise UserError("-n must be at least 1")
    db = store(args, create=False)
    try:
        start = from_user(args.start) if args.start else None
        entries = walk(db, args.n, start=start)
        fmt = format_for(args.output, args.format)
        write(entries, args.output, fmt)
    except SegueError as exc:
        raise UserError(str(exc)) from exc
    except OSError as exc:
        raise UserError(f"{args.output}: {exc.strerror or exc}") from exc
    finally:
        db.close()
    emit(
        args,
        {"path": args.output, "format": fmt, "tracks": len(entries)},
        f"Wrote {count(len(entries), 'track')} to {args.output} ({fmt.upper()})",
    )
    return 0
