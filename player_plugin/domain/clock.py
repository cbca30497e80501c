"""Time as every table stores it: integer milliseconds since the Unix epoch, UTC."""

from __future__ import annotations

import time


def now_ms() -> int:
    """The current time in ms since the epoch."""
    return time.time_ns() // 1_000_000
