"""The `segue` command line: a stable contract (DESIGN.md); users script it.

Every command takes ``--db FILE`` and ``--json`` before or after its name. Exit status 0 on
success; otherwise one line on stderr and a non-zero status, never a traceback for a user
error: :func:`main` maps every :class:`SegueError` and every ``sqlite3`` error in one
place (:func:`player_plugin.cli.common.failure`; that module lists the statuses). Each
command lives in its own module here and registers itself in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from player_plugin import __version__

# Every command: (name, module, one-line help). The module defines
# ``register(subparsers, common)``; only the module of the command being run is imported
# (DESIGN.md: `segue --help` loads no numpy, onnxruntime or Qt), so a command module keeps
# its imports at the top. One module may register several commands.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("gui", "player_plugin.cli.gui", "start the reference player"),
    (
        "demo",
        "player_plugin.cli.gui",
        "build a demo library and history (in a folder of its own) and open the player",
    ),
    ("scan", "player_plugin.cli.scan", "import or re-scan music folders into the library"),
    ("folders", "player_plugin.cli.folders", "list, add or remove the library folders"),
    ("info", "player_plugin.cli.info", "what Segue knows about one track"),
    (
        "import-history",
        "player_plugin.cli.history",
        "import past plays (ListenBrainz, Last.fm CSV, Spotify, .scrobbler.log)",
    ),
    ("log-play", "player_plugin.cli.history", "record one play (scripts, other players)"),
    (
        "plays",
        "player_plugin.cli.history",
        "privacy and upkeep of the play log: pause, resume, delete, export, status, rematch",
    ),
    ("analyze", "player_plugin.cli.analyze", "compute audio features for tracks that lack them"),
    ("recommend", "player_plugin.cli.recommend", "suggestions for the current listening session"),
    ("settings", "player_plugin.cli.settings", "show or change the settings the GUI edits"),
    ("evaluate", "player_plugin.cli.evaluate", "offline evaluation of the model and baselines"),
    (
        "train",
        "player_plugin.cli.train",
        "retrain the model, export ONNX, promote it if it beats the current one",
    ),
    ("model", "player_plugin.cli.train", "the model registry: list, activate ID, rollback"),
    ("doctor", "player_plugin.cli.doctor", "versions, providers, decoders, database and model"),
    (
        "install-desktop",
        "player_plugin.cli.desktop",
        "add Segue to the desktop's applications (desktop entry and icon, for this user)",
    ),
    (
        "listen",
        "player_plugin.cli.listen",
        "log the plays of an external player (MPRIS, MPD), headless; MPD: keep a radio",
    ),
    ("companion", "player_plugin.cli.companion", "the Up next window beside an external player"),
    ("playlist", "player_plugin.cli.playlist", "a radio of suggestions written as a playlist"),
)
DEFAULT_COMMAND = "gui"  # `segue` alone, or with only options, starts the player


def import_sqlite_utils() -> None:
    """Import sqlite-utils without numpy, unless numpy is already loaded.

    sqlite-utils imports numpy when it can, only to name numpy's number types among the
    column types it infers from Python values; Segue's tables come from its migrations and
    never from inferred types. The commands that need no numpy (scan, log-play, folders,
    info, plays, settings) so start 40-100 ms sooner (numpy's own start, longer on a busy
    machine); numpy stays importable (only sqlite-utils' optional import is skipped), and a
    command that needs it imports it.
    """
    if "numpy" in sys.modules or "sqlite_utils" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` fails meanwhile
    try:
        importlib.import_module("sqlite_utils")
    finally:
        del sys.modules["numpy"]


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


def command_name(argv: list[str]) -> str | None:
    """The command *argv* runs: its first word that is not an option (``--db`` takes a
    value); the default command when there is none, None for ``--help`` or ``--version``."""
    words = iter(argv)
    for word in words:
        if word == "--db":
            next(words, None)
        elif word in ("-h", "--help", "--version"):
            return None
        elif not word.startswith("-"):
            return word
    return DEFAULT_COMMAND


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for *argv*: the full options of the command it runs, a name and a line of
    help for every other command (their modules are not imported)."""
    parser = argparse.ArgumentParser(
        prog="segue",
        description="Segue: a local-first 'play next' recommender.",
        parents=[_common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"segue {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options(defaults=False)
    running = command_name(sys.argv[1:] if argv is None else argv)
    for name, module, _help in COMMANDS:
        if name == running:
            import_sqlite_utils()
            importlib.import_module(module).register(subparsers, common)
    for name, _module, help in COMMANDS:
        if name not in subparsers.choices:
            # a name and a line in `segue --help`; never parsed with (the command run is
            # registered above), so no -h option to build: half of this loop's cost
            subparsers.add_parser(name, help=help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)  # `segue --help` and `--version` exit here
    # Here, not at the top: logging and what it imports are a fifth of `segue --help`'s
    # start-up beyond Python's own, and the help needs none of it.
    import logging

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="segue: %(message)s",
        stream=sys.stderr,
    )
    if args.command is None:
        args = parser.parse_args(["gui", *(argv if argv is not None else sys.argv[1:])])
    try:
        return int(args.handler(args) or 0)
    except (Exception, KeyboardInterrupt) as exc:  # one line, never a traceback
        if isinstance(exc, KeyboardInterrupt):
            print("segue: interrupted", file=sys.stderr)
            return 130
        if isinstance(exc, BrokenPipeError):
            return 1
        # Here, not at the top: cli.common opens the store (sqlite_utils: ~0.1 s),
        # which `segue --help` must not load; every command module has imported it already.
        from player_plugin.cli.common import failure

        mapped = failure(exc)
        if mapped is None:
            raise  # a bug: the traceback is what a report needs
        line, status = mapped
        logging.getLogger("player_plugin.cli").debug("failed", exc_info=exc)
        print(f"segue: {line}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
