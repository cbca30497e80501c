"""`segue analyze`: compute audio features for the tracks that lack them (or are stale)."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.library.analyze_job import AnalyzeProgress, analyse_library

log = logging.getLogger(__name__)


def _progress_printer(args: argparse.Namespace):
    """Progress on stderr, at most twice a second, only when stderr is a terminal or -v."""
    if not (args.verbose or sys.stderr.isatty()):
        return None
    last = [0.0]

    def show(p: AnalyzeProgress) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or p.done == p.total:
            last[0] = now
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
    db = store(args)
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
    parser = add_command(
        subparsers, common, "analyze", run, "compute audio features for tracks that lack them"
    )
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
