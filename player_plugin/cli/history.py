"""`segue import-history`, `segue log-play` and `segue plays ...`: the play log from the CLI."""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from datetime import UTC, datetime

from player_plugin.cli.common import (
    UserError,
    add_command,
    checked,
    emit,
    is_busy,
    store,
    user_path,
)
from player_plugin.domain import validate
from player_plugin.domain.clock import now_ms
from player_plugin.domain.paths import display, from_user, json_fields
from player_plugin.domain.words import count
from player_plugin.library.history.common import HistoryFormatError
from player_plugin.library.history.importer import import_files, undo_import
from player_plugin.library.history.matching import rematch_unmatched
from player_plugin.library.history.readers import FORMATS
from player_plugin.store.plays import (
    REASONS,
    SOURCES,
    delete_plays,
    export_listenbrainz,
    get_play,
    log_play,
    outcome,
)
from player_plugin.store.settings import logging_paused, set_logging_paused
from player_plugin.store.tracks import track_by_path

MAX_MALFORMED_LINES = 5
LOG_PLAY_WAIT_S = 60.0  # log-play retries a busy database this long before it gives up
RETRY_PAUSE_S = 0.25
FORMAT_CHOICES = ("auto", *FORMATS)


def parse_when(text: str) -> int:
    """An ISO 8601 time from the user as ms UTC; without a zone it is local time."""
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.astimezone()  # the user's local time
        return int(stamp.astimezone(UTC).timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        raise UserError(
            f"not an ISO 8601 time: {text[:40]!r} (e.g. 2024-05-01T18:30:00Z)"
        ) from None


def parse_play_time(text: str) -> int:
    """A play's start from the user: an ISO 8601 time within [2000, now + 1 day]."""
    return checked(validate.check_time, parse_when(text), f"--at {text[:40]}")


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    try:
        stamp = datetime.fromtimestamp(ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return str(ms)  # an impossible time stored by an older Segue: shown as it is
    spec = "milliseconds" if ms % 1000 else "seconds"
    return stamp.isoformat(timespec=spec).replace("+00:00", "Z")


# -- import-history ---------------------------------------------------------------------------


def run_import(args: argparse.Namespace) -> int:
    if args.undo is not None:
        if args.files:
            raise UserError("--undo takes an import id, not files")
        import_id = checked(validate.check_id, args.undo, "--undo")
        db = store(args)
        try:
            removed = undo_import(db, import_id)
        except LookupError as exc:
            raise UserError(str(exc)) from None
        emit(
            args,
            {"import_id": import_id, "removed": removed},
            f"import {import_id} undone: {count(removed, 'play')} removed",
        )
        return 0
    if not args.files:
        raise UserError("name the history files to import (or --undo ID)")
    paths = [os.fsdecode(from_user(user_path(text, "file name"))) for text in args.files]
    for path in paths:
        if not os.path.exists(path):
            raise UserError(f"no such file: {display(path)}")
    db = store(args)
    try:
        report = import_files(db, paths, args.format)
    except HistoryFormatError as exc:
        raise UserError(f"{exc}; nothing was imported") from None
    data = report.as_json()
    methods = ", ".join(f"{n:,} by {m}" for m, n in sorted(report.methods.items())) or "none"
    lines = [
        f"read {count(report.read, 'row')} ({report.format}): "
        f"{report.matched:,} matched ({methods}), "
        f"{report.unmatched:,} unmatched (kept; matched again after each scan), "
        f"{report.malformed:,} malformed, {report.not_music:,} not music (podcasts, audiobooks)",
        f"{count(report.added, 'play')} added, {report.duplicates:,} already known"
        + (f"; undo with: segue import-history --undo {report.import_id}" if report.added else ""),
    ]
    for row in report.malformed_rows[:MAX_MALFORMED_LINES]:
        lines.append(f"  skipped {row}")
    if report.malformed > MAX_MALFORMED_LINES:
        lines.append(f"  ... and {report.malformed - MAX_MALFORMED_LINES:,} more malformed rows")
    emit(args, data, "\n".join(lines))
    return 0


# -- log-play ---------------------------------------------------------------------------------


def _with_retry(write, wait_s: float):
    """``write()``, tried again while the database is busy, for up to *wait_s* seconds
    (each try itself waits the busy timeout): a play is never dropped for a busy moment."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(RETRY_PAUSE_S)


def run_log_play(args: argparse.Namespace) -> int:
    played_ms = checked(validate.check_ms_heard, args.played_ms, "--played-ms")
    started = parse_play_time(args.at) if args.at else now_ms() - played_ms
    if args.wait < 0 or args.wait > 3600:
        raise UserError("--wait must be between 0 and 3600 seconds")
    path = from_user(user_path(args.path))
    db = store(args)
    track = track_by_path(db, path)
    if track is None:
        raise UserError(f"not in the library: {display(path)} (run `segue scan` first)")
    play_id = _with_retry(
        lambda: log_play(
            db,
            track["id"],
            started_at=started,
            ms_played=played_ms,
            reason=args.reason,
            source=args.source,
        ),
        args.wait,
    )
    if play_id is None:
        emit(
            args,
            {"play_id": None, "paused": True, **json_fields(path)},
            "play logging is paused: nothing recorded (segue plays resume)",
        )
        return 0
    play = get_play(db, play_id)
    if play is None:  # deleted by another process since it was logged
        raise UserError(f"play {play_id} was deleted as it was logged")
    kind = outcome(play["ms_played"], play["duration_ms"], play["reason"], play["skipped"])
    data = {
        "play_id": play_id,
        "track_id": track["id"],
        **json_fields(path),
        "started_at": _iso(play["started_at"]),
        "ms_played": play["ms_played"],
        "reason": play["reason"],
        "source": play["source"],
        "outcome": kind.label,
        "session": play["session"],
    }
    emit(args, data, f"play {play_id} logged: {display(path)} ({play['reason']}, {kind.label})")
    return 0


# -- plays ------------------------------------------------------------------------------------


def run_plays(args: argparse.Namespace) -> int:
    play_id = checked(validate.check_id, args.id, "--id") if args.id is not None else None
    # pausing may come before the first play is logged; the rest reads or edits the log
    db = store(args, create=args.action in ("pause", "resume"))
    action = args.action
    if action in ("pause", "resume"):
        set_logging_paused(db, action == "pause")
        paused = logging_paused(db)
        emit(
            args,
            {"paused": paused},
            "play logging paused" if paused else "play logging resumed",
        )
    elif action == "status":
        row = db.execute(
            "SELECT count(*), sum(track_id IS NULL), min(started_at), max(started_at) FROM plays"
        ).fetchone()
        data = {
            "paused": logging_paused(db),
            "plays": row[0],
            "unmatched": row[1] or 0,
            "first": _iso(row[2]),
            "last": _iso(row[3]),
        }
        state = f"logging {'paused' if data['paused'] else 'on'}"
        if not data["plays"]:
            text = f"no plays yet; {state}"
        else:
            text = (
                f"{count(data['plays'], 'play')} ({data['unmatched']:,} unmatched), "
                f"{data['first']} to {data['last']}; {state}"
            )
        emit(args, data, text)
    elif action == "delete":
        chosen = [args.id is not None, bool(args.start or args.end), args.all]
        if sum(chosen) != 1:
            raise UserError("delete needs exactly one of --id N, --from/--to, --all")
        if play_id is not None:
            removed = delete_plays(db, play_id=play_id)
            if removed == 0:
                raise UserError(f"no play with id {play_id}")
        elif args.all:
            removed = delete_plays(db, everything=True)
        else:
            start = parse_when(args.start) if args.start else None
            end = parse_when(args.end) if args.end else None
            if start is not None and end is not None and end <= start:
                raise UserError("--to must be after --from")
            removed = delete_plays(db, start_ms=start, end_ms=end)
        emit(args, {"deleted": removed}, f"{count(removed, 'play')} deleted")
    elif action == "export":
        if not args.file:
            raise UserError("export needs a FILE to write")
        target = os.fsdecode(from_user(user_path(args.file, "file name")))
        if not os.path.isdir(os.path.dirname(target) or "."):
            raise UserError(f"no such folder for {display(target)}")
        try:
            exported = export_listenbrainz(db, target)
        except OSError as exc:
            raise UserError(f"cannot write {display(target)}: {exc.strerror or exc}") from None
        emit(
            args,
            {"exported": exported, **json_fields(target)},
            f"{count(exported, 'play')} exported to {display(target)} (ListenBrainz JSON)",
        )
    elif action == "rematch":
        matched = rematch_unmatched(db)
        emit(args, {"matched": matched}, f"{matched} unmatched plays found their track")
    return 0


def _integer(text: str) -> int | str:
    """A whole number as given; anything else is kept as text and refused (one line,
    status 2) by the command's own check, so every bad number reads the same."""
    try:
        return int(text)
    except ValueError:
        return text


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "import-history", run_import)
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="history files to import (a folder: the histories inside it, e.g. an unpacked export)",
    )
    parser.add_argument(
        "--format",
        choices=FORMAT_CHOICES,
        default="auto",
        help="the files' format (default: detected from each file's content)",
    )
    parser.add_argument(
        "--undo",
        type=_integer,
        metavar="ID",
        help="remove import ID and exactly the plays it added",
    )

    parser = add_command(subparsers, common, "log-play", run_log_play)
    parser.add_argument("path", metavar="PATH", help="the track's file (b64:... for raw bytes)")
    parser.add_argument(
        "--played-ms", type=_integer, required=True, metavar="N", help="how long it was heard (ms)"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=LOG_PLAY_WAIT_S,
        metavar="S",
        help=f"how long to keep trying while the database is busy (default {LOG_PLAY_WAIT_S:g} s)",
    )
    parser.add_argument(
        "--at",
        metavar="ISO8601",
        help="when it started (no zone = local time; default: now minus --played-ms)",
    )
    parser.add_argument(
        "--reason",
        choices=REASONS,
        help="how it ended (default: what the listen rule says of --played-ms)",
    )
    parser.add_argument("--source", choices=SOURCES[:-1], default="user", help="where it came from")

    parser = add_command(subparsers, common, "plays", run_plays)
    parser.add_argument(
        "action",
        nargs="?",
        choices=("pause", "resume", "delete", "export", "status", "rematch"),
        default="status",
        help="default: status",
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="export: the JSON file to write")
    parser.add_argument("--id", type=_integer, metavar="N", help="delete: one play")
    parser.add_argument("--from", dest="start", metavar="ISO", help="delete: plays from then")
    parser.add_argument("--to", dest="end", metavar="ISO", help="delete: plays before then")
    parser.add_argument("--all", action="store_true", help="delete: every play")
