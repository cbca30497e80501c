"""Static files shipped with Segue (icons)."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def icon_path(name: str) -> str:
    """The SVG file of icon *name* (e.g. ``play``)."""
    return str(FOLDER / f"{name}.svg")
