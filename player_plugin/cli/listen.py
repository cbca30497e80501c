"""`segue listen --host mpris[:NAME] | mpd[:HOST:PORT]`: log an external player, headless.

Runs until SIGTERM or Ctrl+C (then the play in progress is completed as stopped): every
play and skip goes into the database like the reference player's, and with MPD a radio
keeps ``--radio N`` suggestions queued; the model retrains as the settings' policy says
(after new plays or when idle, :mod:`player_plugin.app.autotrain`). A line on stderr when it
starts, when the player's state changes (connected, lost, followed) and when it stops (how
many plays it logged); one per play with ``-v``. One process per database and player (a
lock), so two never log the same plays twice.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from PySide6.QtCore import QCoreApplication, QTimer

from player_plugin.app.autotrain import Autotrain
from player_plugin.app.player_lock import PlayerLock, PlayerLocked
from player_plugin.app.playlog import PlayLog
from player_plugin.cli.common import UserError, add_command, database_path, store
from player_plugin.cli.heap import one_arena
from player_plugin.domain.errors import SegueError
from player_plugin.domain.words import count
from player_plugin.hosts.external import HeadlessLogger, HostSpec, parse_host
from player_plugin.hosts.mpd import MpdHost, connect
from player_plugin.hosts.mpris import MprisHost


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "listen", run)
    add_host_options(parser)
    parser.add_argument(
        "--radio",
        type=int,
        default=None,
        metavar="N",
        help="MPD: keep N suggestions after the current song (default 3; 0 = off)",
    )


def add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        required=True,
        metavar="PLAYER",
        help="mpris (the one playing), mpris:NAME (e.g. mpris:strawberry), mpd, mpd:HOST:PORT",
    )
    parser.add_argument(
        "--music-dir",
        metavar="DIR",
        help="MPD: its music_directory (read from MPD when it runs on this machine)",
    )


def make_host(spec: HostSpec, args: argparse.Namespace, *, radio: int = 0):
    """The Host for *spec*, checked (bus or server reachable), not started yet."""
    if spec.kind == "mpd":
        connect(spec.address, spec.port).disconnect()  # unreachable: one line, exit 2
        return MpdHost(
            spec.address,
            spec.port,
            db_path=str(database_path(args)),
            music_dir=args.music_dir,
            radio=radio,
        )
    return MprisHost(spec.name)


def run(args: argparse.Namespace) -> int:
    logging.getLogger("mpd").setLevel(logging.WARNING)  # python-mpd2 logs every call

    try:
        spec = parse_host(args.host)
    except SegueError as exc:
        raise UserError(str(exc)) from exc
    radio = (3 if spec.kind == "mpd" else 0) if args.radio is None else max(0, args.radio)
    if spec.kind != "mpd" and radio:
        raise UserError("--radio needs a player Segue can queue into: --host mpd")
    db = store(args)
    db_path = str(database_path(args))
    lock = PlayerLock(db_path, spec.label)
    try:
        lock.acquire()
    except PlayerLocked as exc:
        db.close()
        raise UserError(str(exc)) from exc
    one_arena()  # before the worker threads start
    app = QCoreApplication.instance() or QCoreApplication([])
    try:
        host = make_host(spec, args, radio=radio)
    except SegueError as exc:
        lock.release()
        db.close()
        raise UserError(str(exc)) from exc
    logger = HeadlessLogger(host, PlayLog(db), autotrain=Autotrain(db_path), say=_say)
    stop = {"signal": 0}

    def quit_on(signum: int, _frame: object) -> None:
        stop["signal"] = signum
        app.quit()

    previous = {s: signal.signal(s, quit_on) for s in (signal.SIGTERM, signal.SIGINT)}
    wake = QTimer()  # Python runs signal handlers only between bytecodes: wake it up
    wake.start(200)
    wake.timeout.connect(lambda: None)
    hint = "" if args.verbose else "; -v says each play"
    _say(f"listening to {spec.words} (Ctrl+C to stop{hint})")
    host.start()
    try:
        app.exec()
    finally:
        wake.stop()
        app.processEvents()  # plays the worker reported before the stop, in order
        host.stop()  # completes the play in progress (stopped)
        app.processEvents()  # deliver what the worker emitted before it stopped
        logger.close()
        logger.playlog.close_all()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        lock.release()
        db.close()
    _say(f"stopped: {count(logger.logged, 'play')} logged")
    return 0


def _say(text: str) -> None:
    """A line the listener sees with or without ``-v`` (on stderr: stdout stays empty)."""
    print(f"segue: {text}", file=sys.stderr, flush=True)
