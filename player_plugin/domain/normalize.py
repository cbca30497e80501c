"""Normalised text for matching: the same song under slightly different tags gets one key.

Case, accents, punctuation, "feat." credits and "- Remastered 2009"-style suffixes do not
change which recording a play was. Scanner and history matcher both call :func:`match_key`.

A credit is only cut where it cannot be part of the name: "feat."/"ft."/"featuring" after
some text, or a bracketed "(with X)". A title that merely contains or starts with "with"
("With or Without You", "Dance with Me") keeps it.
"""

from __future__ import annotations

import re
import unicodedata

# Bracketed credit anywhere after the name: "Song (feat. X)", "Song [with X]".
_FEAT_BRACKETED = re.compile(
    r"(?<=\S)\s*[\(\[]\s*(?:feat|ft|featuring|with)\b\.?\s[^\)\]]*[\)\]]?", re.IGNORECASE
)
# Unbracketed credit after the name: "Song feat. X", "Artist ft X", "Artist featuring X".
_FEAT_BARE = re.compile(r"(?<=\S)\s+(?:feat|ft|featuring)\b\.?\s.*$", re.IGNORECASE)
_SUFFIX = re.compile(
    r"\s*(?:[-–—]\s*|[\(\[])\s*(?:\d{4}\s+(?:mix|version|edition)\b"
    r"|(?:\d{4}\s+)?(?:\d+(?:st|nd|rd|th)\s+anniversary\s+)?(?:digital(?:ly)?\s+)?"
    r"(?:remaster(?:ed)?|re-?master(?:ed)?|mono|stereo|single|radio|album|original|bonus"
    r"|deluxe|live|explicit|clean)\b)[^\)\]]*[\)\]]?\s*$",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[^\w]+")
_ELIDED = re.compile(r"[.'’`´]")  # "Don't" = "Dont", "P.Y.T." = "PYT"
_LEADING_THE = re.compile(r"^the\s+")
_TRAILING_THE = re.compile(r",\s*the\s*$", re.IGNORECASE)


def fold(text: str | None) -> str:
    """Lower case, accents removed, apostrophes and dots dropped, other punctuation to
    single spaces."""
    if not text:
        return ""
    text = text.replace("&", " and ")
    if not text.isascii():  # ASCII is its own NFKD form and has no combining marks
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _ELIDED.sub("", text)
    return _NON_WORD.sub(" ", text.casefold()).strip()


def strip_credits(text: str) -> str:
    """*text* without featured-artist credits (bracketed or after the name)."""
    return _FEAT_BARE.sub("", _FEAT_BRACKETED.sub("", text))


def clean_title(title: str | None) -> str:
    """The title without featured artists and edition suffixes, folded."""
    text = title or ""
    for _ in range(3):
        stripped = _SUFFIX.sub("", strip_credits(text))
        if stripped == text or not stripped.strip():
            break
        text = stripped
    return fold(text)


def clean_artist(artist: str | None) -> str:
    """The main artist without featured credits and a leading "The", folded."""
    text = _TRAILING_THE.sub("", artist or "")
    folded = fold(strip_credits(text) or text)
    return _LEADING_THE.sub("", folded)


def match_key(artist: str | None, title: str | None) -> str:
    """``"artist\\x1ftitle"``, both cleaned; the exact-match key for history matching."""
    return f"{clean_artist(artist)}\x1f{clean_title(title)}"
