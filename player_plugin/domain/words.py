"""Counting in the listener's words: "1 play", "2 plays", "12,400 tracks"."""

from __future__ import annotations

__all__ = ["count"]


def count(n: int, one: str, many: str | None = None) -> str:
    """*n* (thousands grouped) and the noun in the number it takes: *one* for exactly one,
    else *many* (*one* + "s" when not given)."""
    return f"{n:,} {one if n == 1 else (many if many is not None else one + 's')}"
