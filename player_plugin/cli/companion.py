"""`segue companion --host mpris[:NAME] | mpd[:HOST:PORT]`: the Up next window beside the
player you already use (suggestions, reasons, actions, the model report)."""

from __future__ import annotations

import argparse
import logging

from PySide6.QtWidgets import QApplication

from player_plugin.app.player_lock import PlayerLock, PlayerLocked
from player_plugin.cli.common import UserError, add_command, database_path, store
from player_plugin.cli.heap import one_arena
from player_plugin.cli.listen import add_host_options, make_host
from player_plugin.domain.errors import SegueError
from player_plugin.hosts.external import parse_host
from player_plugin.ui.companion import CompanionWindow


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "companion", run)
    add_host_options(parser)
    parser.add_argument(
        "--radio",
        type=int,
        default=0,
        metavar="N",
        help="MPD: keep N suggestions after the current song (default off)",
    )


def run(args: argparse.Namespace) -> int:
    logging.getLogger("mpd").setLevel(logging.WARNING)
    try:
        spec = parse_host(args.host)
    except SegueError as exc:
        raise UserError(str(exc)) from exc
    store(args).close()  # a clear line when the database cannot be opened
    db_path = str(database_path(args))
    lock = PlayerLock(db_path, spec.label)
    try:
        lock.acquire()
        logging_plays = True
    except PlayerLocked:
        logging_plays = False
    one_arena()  # before the worker threads start
    app = QApplication.instance() or QApplication(["segue"])
    app.setApplicationName("Segue")
    try:
        host = make_host(spec, args, radio=max(0, args.radio))
    except SegueError as exc:
        lock.release()
        raise UserError(str(exc)) from exc
    window = CompanionWindow(host, db_path, spec.label, logging_plays=logging_plays)
    window.show()
    host.start()
    try:
        return app.exec()
    finally:
        lock.release()
