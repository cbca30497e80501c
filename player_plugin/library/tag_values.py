"""Normalising raw tag values (no mutagen here): first values, caps, numbers, dates, genres.

Tag values come from files anyone may have written: every helper is lenient (junk gives
None, never an exception) and caps what it keeps, so an absurd tag cannot flood the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MAX_TEXT = 1024  # characters kept of one tag value
MAX_VALUES = 32  # values kept of a multi-valued tag
MAX_NAME_TEXT = 512  # a title taken from a file name


def cap(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """The text without NULs and outer spaces, at most *limit* characters; None if empty."""
    if text is None:
        return None
    text = text.replace("\x00", "").strip()
    return text[:limit] or None


def values(raw: Iterable[Any] | None, limit: int = MAX_TEXT) -> list[str]:
    """Non-empty, capped, de-duplicated values (at most :data:`MAX_VALUES`)."""
    out: list[str] = []
    for value in raw or ():
        text = cap(str(value), limit)
        if text and text not in out:
            out.append(text)
            if len(out) >= MAX_VALUES:
                break
    return out


def first(raw: Iterable[Any] | None, limit: int = MAX_TEXT) -> str | None:
    """``values(raw, limit)[0]`` (None when empty), without building the list: called
    about twenty times per file of a scan."""
    for value in raw or ():
        text = cap(str(value), limit)
        if text:
            return text
    return None


def split_genres(raw: Iterable[Any] | None) -> list[str]:
    """Genres, also split on ';' (one tag value often holds several)."""
    parts: list[str] = []
    for value in raw or ():
        parts.extend(re.split(r"[;\x00]", str(value)))
    return values(parts, limit=128)


NUMBER_RE = re.compile(r"^\s*(\d+)\s*(?:/\s*(\d+))?")
YEAR_RE = re.compile(r"(\d{4})")


def numbering(text: str | None) -> tuple[int | None, int | None]:
    """``"3/12"`` -> (3, 12); ``"3"`` -> (3, None); junk -> (None, None)."""
    match = NUMBER_RE.match(text or "")
    if not match:
        return None, None
    return pos_int(match.group(1)), pos_int(match.group(2))


DISC_TRACK_RE = re.compile(r"^\s*(\d{1,2})\s*[-.]\s*(\d{1,3})\s*(?:/\s*(\d+))?\s*$")


def disc_track(text: str | None) -> tuple[int | None, int | None, int | None] | None:
    """A disc and its track in one track number, as some rippers write them: ``"1-03"``
    or ``"2.11/14"`` -> (disc, track, total), e.g. (1, 3, None); None for any other text
    (read by :func:`numbering`: ``"1-03"`` is not track 1)."""
    match = DISC_TRACK_RE.match(text or "")
    if not match:
        return None
    return pos_int(match.group(1)), pos_int(match.group(2)), pos_int(match.group(3))


def year(date: str | None) -> int | None:
    match = YEAR_RE.search(date or "")
    if not match:
        return None
    year = int(match.group(1))
    return year if 1000 <= year <= 2999 else None


def pos_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # junk, NaN, infinity
        return None
    return number if 0 < number < 2**31 else None


def float_or_none(text: str | None) -> float | None:
    if not text:
        return None
    match = re.match(r"^\s*([-+]?\d+(?:[.,]\d+)?)", text)
    if not match:
        return None
    return float(match.group(1).replace(",", "."))
