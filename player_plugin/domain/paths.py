"""File paths as bytes: a track's identity is its path bytes; text is only for display.

Linux file names need not be UTF-8. We key tracks by ``os.fsencode(path)`` (a BLOB in
SQLite), show a lossless-enough display text beside it, and give JSON both the text and
``path_b64`` when the name is not valid UTF-8, so scripts can still open the file.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

PathLike = str | bytes | os.PathLike


def to_bytes(path: PathLike) -> bytes:
    """The path's bytes, as the OS sees them (absolute paths stay absolute)."""
    return os.fsencode(path)


def display(path: PathLike) -> str:
    """Text for people and for SQLite TEXT columns: never holds lone surrogates."""
    return to_bytes(path).decode("utf-8", errors="replace")


def is_utf8(path: PathLike) -> bool:
    try:
        to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def to_path(path: PathLike) -> Path:
    """A ``Path`` that opens the file, whatever its encoding (surrogateescape)."""
    return Path(os.fsdecode(to_bytes(path)))


def json_fields(path: PathLike) -> dict[str, str]:
    """``{"path": text}`` plus ``"path_b64"`` when the name is not valid UTF-8."""
    raw = to_bytes(path)
    fields = {"path": display(raw)}
    if not is_utf8(raw):
        fields["path_b64"] = base64.b64encode(raw).decode("ascii")
    return fields


def from_user(text: str) -> bytes:
    """A path typed by a user or a script: ``b64:...`` or plain text, made absolute."""
    if text.startswith("b64:"):
        return base64.b64decode(text[4:])
    return to_bytes(os.path.abspath(text))
