"""The `segue` command line: a stable contract (DESIGN.md); users script it.

Every command takes ``--db FILE`` and ``--json`` before or after its name. Exit status 0 on
success; otherwise one line on stderr and a non-zero status, never a traceback for a user
error. Each command lives in its own module here and registers itself in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from player_plugin import __version__
from player_plugin.cli.common import UserError

# Modules that each define ``register(subparsers, common)``; imported lazily per run.
COMMAND_MODULES = (
    "player_plugin.cli.gui",
    "player_plugin.cli.scan",
    "player_plugin.cli.info",
    "player_plugin.cli.history",
    "player_plugin.cli.analyze",
    "player_plugin.cli.recommend",
    "player_plugin.cli.settings",
    "player_plugin.cli.evaluate",
    "player_plugin.cli.train",
    "player_plugin.cli.doctor",
)


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """``--db`` and ``--json``, accepted before and after the command name."""
    parser = argparse.ArgumentParser(add_help=False)
    default = None if defaults else argparse.SUPPRESS
    parser.add_argument("--db", metavar="FILE", default=default, help="the Segue database")
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="machine-readable output on stdout",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="log progress and details to stderr",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segue",
        description="Segue: a local-first 'play next' recommender.",
        parents=[_common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"segue {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options(defaults=False)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="segue: %(message)s",
        stream=sys.stderr,
    )
    if args.command is None:
        args = parser.parse_args(["gui", *(argv if argv is not None else sys.argv[1:])])
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"segue: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("segue: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
