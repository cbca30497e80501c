"""Normalised text for matching: the same song under slightly different tags gets one key.

Case, accents, punctuation, "feat." credits and "- Remastered 2009"-style suffixes do not
change which recording a play was. Scanner and history matcher both call :func:`match_key`.
"""

from __future__ import annotations

import re
import unicodedata

_FEAT = re.compile(r"\s*[\(\[]?\b(feat|ft|featuring|with)\b\.?\s.*$", re.IGNORECASE)
_SUFFIX = re.compile(
    r"\s*(?:[-–—]\s*|[\(\[])\s*(?:\d{4}\s+)?(?:digital(?:ly)?\s+)?"
    r"(?:remaster(?:ed)?|re-?master(?:ed)?|mono|stereo|single|radio|album|original|bonus"
    r"|deluxe|live|explicit|clean)\b[^\)\]]*[\)\]]?\s*$",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[^\w]+")
_LEADING_THE = re.compile(r"^the\s+")


def fold(text: str | None) -> str:
    """Lower case, accents removed, punctuation to single spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text.replace("&", " and "))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text.casefold()).strip()


def clean_title(title: str | None) -> str:
    """The title without featured artists and edition suffixes, folded."""
    text = title or ""
    for _ in range(3):
        stripped = _SUFFIX.sub("", _FEAT.sub("", text))
        if stripped == text or not stripped.strip():
            break
        text = stripped
    return fold(text)


def clean_artist(artist: str | None) -> str:
    """The main artist without featured credits and a leading "The", folded."""
    folded = fold(_FEAT.sub("", artist or "") or artist)
    return _LEADING_THE.sub("", folded)


def match_key(artist: str | None, title: str | None) -> str:
    """``"artist\\x1ftitle"``, both cleaned; the exact-match key for history matching."""
    return f"{clean_artist(artist)}\x1f{clean_title(title)}"
