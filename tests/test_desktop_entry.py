"""`segue install-desktop`: the desktop entry and icon land under $XDG_DATA_HOME (or
~/.local/share) of a temporary HOME, the entry's Exec starts this Segue, and --remove
takes them away."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

from player_plugin.app.desktop_entry import entry_text

ASSET = Path(__file__).resolve().parents[1] / "assets"


def _entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


def test_install_desktop_in_a_temporary_home(segue, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    result = segue("install-desktop", "--json")
    assert result.status == 0, result.err
    share = home / ".local" / "share"
    desktop = share / "applications" / "segue.desktop"
    icon = share / "icons" / "hicolor" / "scalable" / "apps" / "segue.svg"
    assert result.json["desktop_file"] == str(desktop)
    assert result.json["icon"] == str(icon)
    assert icon.read_bytes() == (ASSET / "segue.svg").read_bytes()
    entry = _entry(desktop)
    assert entry["Type"] == "Application" and entry["Name"] == "Segue"
    assert entry["Icon"] == "segue"  # the name the MPRIS service's DesktopEntry goes with
    assert "Audio" in entry["Categories"].split(";")
    command = shlex.split(entry["Exec"])
    assert Path(command[0]).is_absolute() and command[-1] == "gui"
    assert Path(entry["TryExec"]) == Path(command[0])
    # the entry starts this Segue: its command, asked for the version, answers
    version = subprocess.run(
        [*command[:-1], "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("segue "), version.stderr
    # removed again
    removed = segue("install-desktop", "--remove", "--json")
    assert sorted(removed.json["removed"]) == sorted([str(desktop), str(icon)])
    assert not desktop.exists() and not icon.exists()
    assert segue("install-desktop", "--remove").out.strip() == "nothing to remove"


def test_install_desktop_follows_xdg_data_home(segue, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert segue("install-desktop").status == 0
    assert (tmp_path / "data" / "applications" / "segue.desktop").is_file()
    assert not (tmp_path / "home").exists()


def test_install_desktop_failure_is_one_line(segue, tmp_path, monkeypatch):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    result = segue("install-desktop")
    assert result.status != 0
    assert result.err.count("\n") == 1 and "cannot install the desktop entry" in result.err
    assert "Traceback" not in result.err


def test_exec_quotes_paths_with_spaces():
    text = entry_text(["/opt/my apps/segue", "gui"])
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line == 'Exec="/opt/my apps/segue" gui'
    assert shlex.split(exec_line[len("Exec=") :]) == ["/opt/my apps/segue", "gui"]
