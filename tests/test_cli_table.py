"""The CLI knows its commands from a table and imports only the running command's module."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from player_plugin import cli

HEAVY = ("onnxruntime", "PySide6", "torch", "librosa", "av")
# `segue --help` opens no store either: sqlite_utils costs ~0.1 s (with numpy, ~0.5 s loaded)
STORE = ("sqlite_utils", "numpy", "mutagen")


def _loaded_by(argv: list[str]) -> tuple[set[str], str]:
    code = (
        "import sys\n"
        "from player_plugin import cli\n"
        "parser = cli.build_parser(sys.argv[1:])\n"
        "help = parser.format_help()\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
        "print(help)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True
    ).stdout
    first, _, rest = out.partition("\n")
    return set(first.split()), rest


def test_help_loads_no_heavy_package_and_lists_every_command():
    loaded, text = _loaded_by(["--help"])
    assert not loaded & set(HEAVY + STORE), loaded & set(HEAVY + STORE)
    for name, _module, _help in cli.COMMANDS:
        assert name in text


def test_a_light_command_loads_only_its_module():
    loaded, _ = _loaded_by(["settings", "list"])
    assert "PySide6" not in loaded
    modules = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom player_plugin import cli\ncli.build_parser(['settings', 'list'])\n"
            "print(' '.join(m for m in sys.modules if m.startswith('player_plugin.cli.')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(modules) == {"player_plugin.cli.common", "player_plugin.cli.settings"}


def test_a_command_that_needs_no_numpy_starts_without_it(tmp_path):
    # sqlite-utils would import numpy (≈ 40 ms of `segue log-play`'s start); the command
    # works without it, and numpy still imports afterwards in the same process
    code = (
        "import sys\n"
        "from player_plugin import cli\n"
        "status = cli.main(sys.argv[1:])\n"
        "lean = 'numpy' not in sys.modules\n"
        "import numpy\n"
        "print(status, lean, int(numpy.arange(4).sum()))\n"
    )
    db = tmp_path / "segue.db"
    out = subprocess.run(
        [sys.executable, "-c", code, "--db", str(db), "settings"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines()[-1] == "0 True 6"
    assert db.exists()  # the store was really opened (and migrated) through sqlite-utils


def test_command_name_skips_options():
    assert cli.command_name(["--db", "x.db", "--json", "scan", "/music"]) == "scan"
    assert cli.command_name(["-v"]) == cli.DEFAULT_COMMAND
    assert cli.command_name(["--help"]) is None
    assert cli.command_name(["--version"]) is None


def test_every_module_registers_exactly_its_table_rows():
    common = cli._common_options(defaults=False)
    modules: dict[str, list[tuple[str, str]]] = {}
    for name, module, help in cli.COMMANDS:
        modules.setdefault(module, []).append((name, help))
    for module, rows in modules.items():
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(subparsers, common)
        helps = {a.dest: a.help for a in subparsers._choices_actions}
        assert helps == dict(rows), module


def _old_parser() -> argparse.ArgumentParser:
    """build_parser(["--help"]) as it was: every command's placeholder with its own -h."""
    parser = argparse.ArgumentParser(
        prog="segue",
        description="Segue: a local-first 'play next' recommender.",
        parents=[cli._common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"segue {cli.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, _module, help in cli.COMMANDS:
        subparsers.add_parser(name, help=help)
    return parser


def test_help_text_and_a_wrong_command_read_as_before(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.build_parser(["--help"]).format_help() == _old_parser().format_help()
    errors = []
    for parser in (cli.build_parser(["nonsense"]), _old_parser()):
        try:
            parser.parse_args(["nonsense"])
        except SystemExit as exit:
            errors.append((exit.code, capsys.readouterr().err))
    assert len(errors) == 2 and errors[0] == errors[1] and "invalid choice" in errors[0][1]
