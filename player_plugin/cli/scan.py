"""`segue scan PATH...`: import or re-scan music folders into the store.

Progress goes to stderr: a line rewritten in place on a terminal, or one JSON object per
line with ``--json`` (stdout keeps the one result object)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

from player_plugin.app.folders import add_folders
from player_plugin.cli.common import EXIT_FAILURE, UserError, add_command, emit, store, user_path
from player_plugin.domain.paths import display, from_user
from player_plugin.domain.words import count
from player_plugin.library.scanner import ScanProgress, idle_workers, scan

MAX_ERROR_LINES = 5


class _ProgressLine:
    """One self-overwriting line on stderr (only when stderr is a terminal)."""

    def __init__(self) -> None:
        self.shown = False
        self.last = 0.0

    def __call__(self, progress: ScanProgress) -> None:
        now = time.monotonic()
        if progress.phase != "done" and now - self.last < 0.1:
            return
        self.last = now
        width = shutil.get_terminal_size((80, 20)).columns - 1
        if progress.phase == "walk":
            text = f"looking for music: {progress.done} files  "
        else:
            text = f"reading tags: {progress.done}/{progress.total}  "
        room = width - len(text)
        current = progress.current
        if len(current) > room:  # keep the end: the file name is the interesting part
            current = "…" + current[len(current) - room + 1 :] if room > 1 else ""
        sys.stderr.write("\r" + (text + current)[:width].ljust(width))
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            width = shutil.get_terminal_size((80, 20)).columns - 1
            sys.stderr.write("\r" + " " * width + "\r")
            sys.stderr.flush()


class _ProgressJson:
    """One JSON object per line on stderr with ``--json`` (stdout keeps the one result
    object), at most twice a second and at the end: ``{"event": "progress", "phase",
    "done", "total"}``."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, progress: ScanProgress) -> None:
        now = time.monotonic()
        if progress.phase != "done" and now - self.last < 0.5:
            return
        self.last = now
        line = {
            "event": "progress",
            "phase": progress.phase,
            "done": progress.done,
            "total": progress.total,
        }
        print(json.dumps(line), file=sys.stderr, flush=True)

    def clear(self) -> None:
        """Nothing to clear: each line stands."""


def _readable(root: bytes) -> bool:
    if os.path.isdir(root):
        try:
            with os.scandir(root):
                return True
        except OSError:
            return False
    return os.access(root, os.R_OK)


def _tracks_under(db, root: bytes) -> int:
    """How many present tracks the library holds at or under *root*."""
    prefix = root.rstrip(b"/") + b"/"
    upper = prefix[:-1] + b"0"  # the first byte string after every "root/..." one
    row = db.execute(
        "SELECT count(*) FROM tracks WHERE missing = 0 AND (path = ? OR (path >= ? AND path < ?))",
        [root, prefix, upper],
    ).fetchone()
    return int(row[0])


def run(args: argparse.Namespace) -> int:
    roots = [from_user(user_path(text)) for text in args.paths]
    for root in roots:
        if not os.path.exists(root):
            raise UserError(f"no such file or folder: {display(root)}")
    unreadable = [root for root in roots if not _readable(root)]
    if len(unreadable) == len(roots):
        raise UserError(f"cannot read {display(unreadable[0])}", EXIT_FAILURE)
    db = store(args)
    add_folders(db, [r for r in roots if os.path.isdir(r) and os.access(r, os.R_OK | os.X_OK)])
    line: _ProgressLine | _ProgressJson | None = None
    if args.json:
        line = _ProgressJson()
    elif sys.stderr.isatty():
        line = _ProgressLine()
    try:
        summary = scan(db, roots, progress=line, workers=idle_workers())
    finally:
        if line is not None:
            line.clear()
    data = summary.as_json()
    text = (
        f"{summary.added} added, {summary.updated} updated, {summary.moved} moved, "
        f"{summary.removed} missing now, {summary.unchanged} unchanged, "
        f"{count(summary.errors, 'error')} ({summary.seconds:.1f} s)"
    )
    for path, reason in summary.error_list[:MAX_ERROR_LINES]:
        text += f"\n  cannot read {display(path)}: {reason}"
    if summary.errors > MAX_ERROR_LINES:
        text += f"\n  ... and {summary.errors - MAX_ERROR_LINES} more (see `segue doctor`)"
    empty = [r for r in roots if r not in unreadable and _tracks_under(db, r) == 0]
    emit(args, data, text)
    problems = [f"cannot read {display(r)}" for r in unreadable]
    problems += [f"no music Segue can read in {display(r)}" for r in empty]
    if problems:
        print(f"segue: {'; '.join(problems)}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "scan", run)
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="folders (or files); b64:... for raw bytes"
    )
