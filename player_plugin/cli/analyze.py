"""`segue analyze`: compute audio features for the tracks that lack them (or are stale).

Progress goes to stderr: a line rewritten in place when stderr is a terminal (or with -v),
one JSON object per line with ``--json`` (stdout keeps the one result object). Warnings of
the audio libraries (librosa, ...) go to the log, shown with -v, never bare on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.library.analyze_job import AnalyzeProgress, analyse_library

log = logging.getLogger(__name__)


def _progress_printer(args: argparse.Namespace):
    """Progress on stderr, at most twice a second: JSON lines with --json, else a line
    rewritten in place when stderr is a terminal or with -v; None when nobody watches."""
    if not (args.json or args.verbose or sys.stderr.isatty()):
        return None
    last = [0.0]

    def show(p: AnalyzeProgress) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and p.done != p.total:
            return
        last[0] = now
        if args.json:
            line = {
                "event": "progress",
                "done": p.done,
                "total": p.total,
                "analysed": p.analysed,
                "failed": p.failed,
            }
            print(json.dumps(line), file=sys.stderr, flush=True)
        else:
            print(
                f"\ranalysed {p.done}/{p.total} ({p.failed} failed)",
                end="\n" if p.done == p.total else "",
                file=sys.stderr,
                flush=True,
            )

    return show


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 0:
        raise UserError("--workers must be 0 or more")
    # Library warnings (librosa's, numpy's) become log records, shown only with -v.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.INFO if args.verbose else logging.ERROR)
    db = store(args, create=False)
    summary = analyse_library(
        db,
        force=args.force,
        retry_failed=args.retry_failed,
        workers=args.workers,
        progress=_progress_printer(args),
    )
    emit(
        args,
        summary.as_json(),
        f"analysed {summary.analysed}, skipped {summary.skipped} (up to date), "
        f"failed {summary.failed} in {summary.seconds:.1f} s",
    )
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "analyze", run)
    parser.add_argument(
        "--force", action="store_true", help="re-analyse every track, even those up to date"
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="try again the files that could not be analysed (otherwise skipped until changed)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default: one per CPU; 0 analyses in this process)",
    )
