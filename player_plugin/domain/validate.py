"""One validation of the numbers, times and text that come from outside (history files,
`segue log-play`, command-line ids), so every input path accepts and refuses the same.

- a play's time lies in [2000-01-01, now + 1 day] (earlier is an unset clock, later a
  broken one);
- ms heard lie in [0, 24 h]; a track's duration in (0, 24 h];
- an integer fits SQLite's 64-bit column; infinities, NaN and overflow are refused;
- text loses its NUL bytes (SQLite and every player choke on them).

Each check raises :class:`InvalidValue` (a :class:`SegueError` and a ``ValueError``) with a
short reason; a history row that fails is malformed, a command-line argument that fails is
one line and exit status 2.
"""

from __future__ import annotations

import math
import time

from player_plugin.domain.errors import SegueError

EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
FUTURE_SLACK_MS = 24 * 3600 * 1000  # a day: clocks and zones differ
DAY_MS = 24 * 3600 * 1000
SQLITE_INT_MIN = -(2**63)
SQLITE_INT_MAX = 2**63 - 1

__all__ = [
    "DAY_MS",
    "EARLIEST_MS",
    "InvalidValue",
    "as_int",
    "check_duration",
    "check_id",
    "check_ms_heard",
    "check_time",
    "clean_text",
    "latest_ms",
]


class InvalidValue(SegueError, ValueError):
    """A number, time or id outside what Segue accepts; ``str()`` is the reason."""


def latest_ms(now_ms: int | None = None) -> int:
    """The latest acceptable play time: now plus a day."""
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    return now + FUTURE_SLACK_MS


def as_int(value: object, what: str = "number") -> int:
    """An integer from an int, a finite float or numeric text, that fits SQLite."""
    if isinstance(value, bool) or value is None:
        raise InvalidValue(f"{what}: not a number")
    if isinstance(value, int):
        number = value
    else:
        try:
            # any object: float() itself says whether it is a number
            real = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise InvalidValue(f"{what}: not a number") from None
        if not math.isfinite(real):
            raise InvalidValue(f"{what}: not a finite number")
        if abs(real) >= 2.0**63:
            raise InvalidValue(f"{what}: too large")
        number = int(real)
    if not SQLITE_INT_MIN <= number <= SQLITE_INT_MAX:
        raise InvalidValue(f"{what}: too large")
    return number


def check_time(ms: object, what: str = "time", *, now_ms: int | None = None) -> int:
    """A play time (ms UTC) within [2000-01-01, now + 1 day]."""
    value = as_int(ms, what)
    if value < EARLIEST_MS:
        raise InvalidValue(f"{what}: before 2000 (an unset clock?)")
    if value > latest_ms(now_ms):
        raise InvalidValue(f"{what}: in the future")
    return value


def check_ms_heard(ms: object, what: str = "ms played") -> int:
    """How long a play was heard: 0 to 24 hours, in ms."""
    value = as_int(ms, what)
    if not 0 <= value <= DAY_MS:
        raise InvalidValue(f"{what}: {value} is not between 0 and 24 hours")
    return value


def check_duration(ms: object, what: str = "duration") -> int:
    """A track's length: more than 0 and at most 24 hours, in ms."""
    value = as_int(ms, what)
    if not 0 < value <= DAY_MS:
        raise InvalidValue(f"{what}: {value} ms is not a track length")
    return value


def check_id(value: object, what: str = "id") -> int:
    """A row id: a positive integer that fits SQLite."""
    if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
        raise InvalidValue(f"{what}: {value[:30]!r} is not a whole number")
    number = as_int(value, what)
    if number < 1:
        raise InvalidValue(f"{what}: must be 1 or more")
    return number


def clean_text(text: str | None) -> str | None:
    """*text* without NUL bytes (None stays None)."""
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "")
