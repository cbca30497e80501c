"""What every history parser shares: the file-level error, read counters, time parsing."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from player_plugin.domain import validate
from player_plugin.domain.errors import SegueError
from player_plugin.library.history.records import HistoryPlay

EARLIEST_MS = validate.EARLIEST_MS  # 2000-01-01: earlier times are unset clocks, not plays
FUTURE_SLACK_MS = validate.FUTURE_SLACK_MS
MAX_LINE_CHARS = 1 << 20  # a longer line is no history row: skipped as malformed


class HistoryFormatError(SegueError):
    """The file is not a history of the given (or any known) format; one clear line."""


@dataclass(frozen=True, slots=True)
class SeguePlay(HistoryPlay):
    """A play read back from Segue's own export: also where it came from, when it ended,
    and the file it was of."""

    source: str | None = None
    ended_at: int | None = None
    path: bytes | None = None


@dataclass
class ReadStats:
    """Counters a reader keeps beside what it yields: rows that are not music (podcast
    episodes, audiobooks) are neither plays nor malformed, and the format of each file."""

    not_music: int = 0
    formats: dict[str, str] = field(default_factory=dict)  # file name -> format


_DATE_FORMATS = (
    "%d %b %Y, %H:%M",  # Last.fm export: "31 Jan 2021, 12:34"
    "%d %b %Y %H:%M",
    "%d %b %Y, %H:%M:%S",
    "%d %b %Y %H:%M:%S",
    "%Y-%m-%d %H:%M",  # Spotify basic: "2019-02-10 14:23"
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
)
_NUMBER = re.compile(r"^\d{9,13}(?:\.\d+)?$")


def parse_time(text: object) -> int:
    """A time as ms since the epoch, UTC: unix seconds (or ms), ISO 8601, or the date
    texts exports use. Text without a zone is UTC (as Last.fm and Spotify write it).
    Raises ``ValueError`` with a short reason."""
    if isinstance(text, bool) or text is None:
        raise ValueError("no time")
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = str(text).strip()
        if not raw:
            raise ValueError("no time")
        if _NUMBER.match(raw):
            value = float(raw)
        else:
            return _checked(_parse_date_text(raw[:64]))
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ValueError("implausible time")
    # Unix seconds; a 13-digit number is milliseconds.
    ms = int(value) if value > 1e11 else round(value * 1000)
    return _checked(ms)


def _parse_date_text(raw: str) -> int:
    iso = raw.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        stamp = datetime.fromisoformat(iso)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                stamp = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unreadable time {raw[:40]!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    try:
        return round(stamp.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"unreadable time {raw[:40]!r}") from None


def _checked(ms: int) -> int:
    try:
        return validate.check_time(ms)
    except validate.InvalidValue:
        raise ValueError(f"implausible time {ms // 1000}") from None


def text_or_none(value: object) -> str | None:
    """A stripped string, or None for missing/empty values."""
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()  # NUL bytes dropped (as validate.clean_text)
    return text or None


def int_or_none(value: object) -> int | None:
    """An integer from a number or numeric text; None when absent or not a number."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        return validate.as_int(value)
    except validate.InvalidValue:
        return None


def read_text(path: Path) -> str:
    """The file as text (UTF-8, a BOM dropped); a clear error if it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HistoryFormatError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def open_text(path: Path) -> TextIO:
    """The file as a text stream (UTF-8, a BOM dropped; Latin-1 when its start is not
    UTF-8); a clear error if it cannot be read."""
    try:
        with path.open("rb") as probe:
            head = probe.read(64 * 1024)
        encoding = "utf-8-sig"
        try:
            head.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the boundary
                encoding = "latin-1"
        return path.open(encoding=encoding, errors="replace", newline="")
    except OSError as exc:
        raise HistoryFormatError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc


def capped_lines(handle: TextIO, limit: int = MAX_LINE_CHARS) -> Iterator[str | None]:
    """The lines of *handle* (line ends kept); a line longer than *limit* characters is
    read past without being held and given as None (a malformed row)."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith("\n"):
            while True:  # skip the rest of this line, a chunk at a time
                rest = handle.readline(limit)
                if not rest or rest.endswith("\n"):
                    break
            yield None
            continue
        yield line
