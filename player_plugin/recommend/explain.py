"""Reasons in words, each naming the track or the fact it rests on.

Methods explain their own scores (``Recommender.explain``: "often follows X", "same artist
as X"); when they cannot, :func:`track_reason` states a fact from the listener's plays:
"you played this a lot in March 2024", "not heard for 8 months", "new to you".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from player_plugin.recommend.album_order import next_on_album

DAY_MS = 24 * 3600 * 1000
A_LOT = 5  # plays in one month that make it "a lot"
LONG_AGO_DAYS = 60  # "not heard for ..." once it has been this long


def _month(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%B %Y")


def _ago(days: float) -> str:
    if days >= 730:
        return f"{int(days // 365)} years"
    if days >= 60:
        return f"{round(days / 30.4)} months"
    if days >= 14:
        return f"{round(days / 7)} weeks"
    if days >= 2:
        return f"{int(days)} days"
    hours = days * 24
    if hours >= 2:
        return f"{int(hours)} hours"
    return f"{max(1, int(hours * 60))} minutes"


def listens_fact(listens: np.ndarray) -> str:
    """ "you played this a lot in March 2024" / "you played this 3 times" / "new to you",
    from the start times (ms) of a track's listens, in the plays' order."""
    if not listens.size:
        return "new to you"
    # the month with the most listens, the first such in the plays' order on a tie (as a
    # Counter's most_common has it): in arrays, not a date formatted per listen
    months = listens.astype("datetime64[ms]").astype("datetime64[M]")
    _, first, counts = np.unique(months, return_index=True, return_counts=True)
    count = int(counts.max())
    if count >= A_LOT:
        month = _month(int(listens[first[counts == count].min()]))
        return f"you played this a lot in {month} ({count} times)"
    total = len(listens)
    return "you played this once" if total == 1 else f"you played this {total} times"


def since_fact(last: int | None, now: int) -> str:
    """ "you played this 2 hours ago" / "not heard for 8 months" / "new to you", from the
    start (ms) of a track's last play."""
    if last is None:
        return "new to you"
    days = max(0.0, (now - last) / DAY_MS)
    if days >= LONG_AGO_DAYS:
        return f"not heard for {_ago(days)}"
    return f"you played this {_ago(days)} ago"


def follows_reason(item: int, prev: int, catalogue: Catalogue, times: int | None = None) -> str:
    """*item* came right after *prev* before (*times* times, when the method counts them).
    A track replayed right away is said so: it does not "follow" itself."""
    if times is None:
        if item == prev:
            return "you often play it twice in a row"
        return f"often follows {catalogue.describe(prev)}"
    said = "once" if times == 1 else f"{times} times"
    if item == prev:
        return f"you played it twice in a row ({said} before)"
    if times == 1:
        return f"followed {catalogue.describe(prev)} once before"
    return f"often follows {catalogue.describe(prev)} ({said} before)"


def track_reason(
    started: np.ndarray,
    listened: np.ndarray,
    item: int,
    catalogue: Catalogue,
    now_ms: int | None,
    artist_listens: int,
) -> str:
    """The most telling fact about *item* from its plays: a rediscovery, a favourite month,
    a count, or that it is new (then by whom, if the listener knows the artist). Its plays
    come as arrays (their starts, whether each was a listen, in the plays' order) with its
    artist's listens: what a recommender's index of its history gives without a loop over
    every play."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    if not started.size:
        if artist_listens:
            name = catalogue.artist_names[catalogue.artist[item]]
            return f"new to you, by {name} (you played them {artist_listens} times)"
        return "new to you"
    last = int(started[-1])
    if (now - last) / DAY_MS >= LONG_AGO_DAYS:
        return since_fact(last, now)
    return listens_fact(started[listened])


def session_artist_reason(session: Sequence[Play], item: int, catalogue: Catalogue) -> str | None:
    """ "same artist as X" when a track of this session shares the artist."""
    artist = catalogue.artist[item]
    if not artist:
        return None
    for play in reversed(session):
        if play.item != item and catalogue.artist[play.item] == artist:
            return f"same artist as {catalogue.describe(play.item)}"
    return None


SIMILAR_TEMPO = 0.06  # tempi within 6 % (log2 0.085) sound alike


def tempo_bpm(catalogue: Catalogue, item: int) -> float | None:
    """The analysed tempo (BPM) of *item*, or None when unanalysed or unknown."""
    audio = catalogue.audio
    if audio is None or item >= len(audio):
        return None
    value = float(audio[item][0])  # log2(tempo / 120); 0 also means "no tempo found"
    if value != value or value == 0.0:  # NaN: not analysed
        return None
    return 120.0 * 2.0**value


def album_next_reason(item: int, anchor: int | None, catalogue: Catalogue) -> str | None:
    """ "next on Album, after Artist – Title" when *item* is the track after *anchor* (playing
    or last played) on its album; None otherwise."""
    if anchor is None or next_on_album(catalogue, anchor) != item:
        return None
    album = catalogue.album_names[catalogue.album[item]]
    return f"next on {album}, after {catalogue.describe(anchor)}"


def link_reason(item: int, anchor: int | None, catalogue: Catalogue) -> str | None:
    """What ties *item* to the track *anchor* (playing or last played), as a true fact:
    the next track of its album, the same album, the same artist, the same genre, or a
    similar tempo; None if nothing."""
    if anchor is None or anchor == item:
        return None
    following = album_next_reason(item, anchor, catalogue)
    if following:
        return following
    other = catalogue.describe(anchor)
    album = catalogue.album[item]
    if album and album == catalogue.album[anchor]:
        return f"from the same album as {other} ({catalogue.album_names[album]})"
    artist = catalogue.artist[item]
    if artist and artist == catalogue.artist[anchor]:
        return f"same artist as {other}"
    genre = catalogue.genre[item]
    if genre and genre == catalogue.genre[anchor]:
        return f"{catalogue.genre_names[genre]}, like {other}"
    mine, theirs = tempo_bpm(catalogue, item), tempo_bpm(catalogue, anchor)
    if mine and theirs and abs(mine - theirs) <= SIMILAR_TEMPO * theirs:
        return f"a similar tempo to {other} (about {round(mine)} BPM)"
    return None


def cold_reason(item: int, catalogue: Catalogue, anchor: int | None = None) -> str:
    """The reason for a suggestion made with (almost) no history: what links it to
    *anchor* when something does, else "not played yet" with what the tags tell (genre,
    album, year), so that ten suggestions read as ten different, true facts."""
    linked = link_reason(item, anchor, catalogue)
    if linked:
        return f"not played yet; {linked}"
    facts = []
    genre = catalogue.genre[item]
    if genre:
        facts.append(catalogue.genre_names[genre])
    album = catalogue.album[item]
    if album and catalogue.album_names[album]:
        facts.append(f"from {catalogue.album_names[album]}")
    year = int(catalogue.year[item])
    if year:
        facts.append(str(year))
    bpm = tempo_bpm(catalogue, item)
    if bpm:
        facts.append(f"{round(bpm)} BPM")
    return "not played yet" + (f": {', '.join(facts)}" if facts else "")
