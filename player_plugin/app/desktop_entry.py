"""The desktop entry and icon, installed for the user (``segue install-desktop``).

Writes ``segue.desktop`` to ``$XDG_DATA_HOME/applications`` and the icon to
``$XDG_DATA_HOME/icons/hicolor/scalable/apps/segue.svg`` (``$XDG_DATA_HOME`` defaults to
``~/.local/share``), so launchers list Segue and MPRIS widgets show its icon (the MPRIS
service names ``DesktopEntry=segue``). ``Exec`` names the ``segue`` that runs the command,
by its full path, so the entry works from a virtual environment that is not on ``PATH``.
Nothing outside the user's own data folder is touched; :func:`remove` undoes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from assets import FOLDER as ASSETS
from player_plugin.domain.errors import SegueError

DESKTOP_ID = "segue.desktop"
ICON_NAME = "segue"


class DesktopEntryError(SegueError):
    """The entry or icon could not be written or removed; ``subject`` is the file."""


@dataclass(frozen=True)
class Installed:
    desktop_file: Path
    icon: Path
    exec_line: str

    def as_json(self) -> dict:
        return {
            "desktop_file": str(self.desktop_file),
            "icon": str(self.icon),
            "exec": self.exec_line,
        }


def data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or not absolute."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def _quote(arg: str) -> str:
    """One Exec argument, quoted as the Desktop Entry spec asks when it needs it."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%="):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return '"' + escaped.replace("%", "%%") + '"'


def exec_command() -> list[str]:
    """The command that starts this Segue's player: the ``segue`` script that runs now,
    the one beside this interpreter, the one on ``PATH``, or this interpreter itself."""
    candidates = [
        Path(sys.argv[0]) if sys.argv and sys.argv[0] else None,
        Path(sys.executable).parent / "segue",
        Path(found) if (found := shutil.which("segue")) else None,
    ]
    for script in candidates:
        if script is not None and script.name == "segue" and os.access(script, os.X_OK):
            return [str(script.absolute()), "gui"]
    code = "import sys; from player_plugin.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, "gui"]


def entry_text(command: list[str]) -> str:
    """The shipped entry with ``Exec`` and ``TryExec`` pointing at *command*."""
    lines = []
    for line in (ASSETS / DESKTOP_ID).read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(_quote(a) for a in command)
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0]
        lines.append(line)
    return "\n".join(lines) + "\n"


def paths(base: Path | None = None) -> tuple[Path, Path]:
    base = base or data_home()
    return (
        base / "applications" / DESKTOP_ID,
        base / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
    )


def install(base: Path | None = None, command: list[str] | None = None) -> Installed:
    """Write the entry and the icon for the user; refreshes the caches when the tools are
    there (``update-desktop-database``, ``gtk-update-icon-cache``), quietly otherwise."""
    base = base or data_home()
    desktop, icon = paths(base)
    command = command or exec_command()
    text = entry_text(command)
    try:
        desktop.parent.mkdir(parents=True, exist_ok=True)
        icon.parent.mkdir(parents=True, exist_ok=True)
        tmp = desktop.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(desktop)
        shutil.copyfile(ASSETS / f"{ICON_NAME}.svg", icon)
    except OSError as exc:
        raise DesktopEntryError(
            exc.strerror or str(exc), os.fsencode(exc.filename or desktop)
        ) from exc
    _refresh(base)
    return Installed(desktop, icon, text.split("Exec=", 1)[1].splitlines()[0])


def remove(base: Path | None = None) -> list[Path]:
    """Remove what :func:`install` wrote; returns the files removed."""
    base = base or data_home()
    removed = []
    for path in paths(base):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DesktopEntryError(exc.strerror or str(exc), os.fsencode(path)) from exc
    _refresh(base)
    return removed


def _refresh(base: Path) -> None:
    for tool, target in (
        ("update-desktop-database", base / "applications"),
        ("gtk-update-icon-cache", base / "icons" / "hicolor"),
    ):
        if shutil.which(tool) and target.is_dir():
            args = [tool, "-q", str(target)]
            if tool == "gtk-update-icon-cache":
                args = [tool, "-q", "-t", "-f", str(target)]
            subprocess.run(args, check=False, capture_output=True, timeout=30)
