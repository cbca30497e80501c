"""Albums in their own order: a list plays an album's tracks as the album does.

A recommender scores tracks, not places on an album, so a list may offer an album's
seventh track before its third, and a listener playing an album through is offered its
ninth track after the second. :func:`in_album_order` mends both. When the listener is
playing an album through (the two tracks before the list are consecutive on it), the
album's next track heads the list (when the re-ranker lets it through), in the place of
the lowest-ranked track of that album in the list, else of the list's last track; a
listener who picks an album's favourites keeps the model's picks. The tracks of one album
then take that album's places in the list in the album's order (for the album playing,
the tracks after the one playing first). Tracks without a track number keep their places:
a catalogue without numbers (a history's) is left as it is.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import numpy as np

from player_plugin.domain.catalogue import Catalogue

Place = tuple[int, int]  # (disc, track): an unknown disc counts as the first


def place(catalogue: Catalogue, item: int) -> Place:
    """*item*'s place on its album."""
    return max(1, int(catalogue.disc_no[item])), int(catalogue.track_no[item])


def album_tracks(catalogue: Catalogue, album: int) -> tuple[list[Place], list[int]]:
    """The places and the numbered tracks of *album* in the album's order (equal places
    in catalogue order), found once per album: a catalogue is not written once made."""
    found = catalogue.album_memo.get(album)
    if found is None:
        items = np.flatnonzero((catalogue.album == album) & (catalogue.track_no > 0)).tolist()
        pairs = sorted((place(catalogue, i), i) for i in items)
        found = catalogue.album_memo[album] = ([p for p, _ in pairs], [i for _, i in pairs])
    return found


def next_on_album(catalogue: Catalogue, item: int) -> int | None:
    """The track after *item* on its album (the next number, across discs), or None."""
    album = int(catalogue.album[item])
    if not album or not catalogue.numbered or catalogue.track_no[item] <= 0:
        return None
    places, items = album_tracks(catalogue, album)
    at = bisect.bisect_right(places, place(catalogue, item))
    return items[at] if at < len(items) else None


def in_album_order(
    chosen: list[int],
    catalogue: Catalogue,
    current: int | None = None,
    previous: int | None = None,
    can_take: Callable[[int, int], bool] = lambda new, old: True,
) -> list[int]:
    """*chosen* (best first), to be played after *current* (itself after *previous*),
    with each album's tracks in the album's order, headed by the album's next track when
    *previous* came right before *current* on it; *can_take(new, old)* says whether the
    rules let track *new* take *old*'s place."""
    if not chosen or not catalogue.numbered:
        return chosen
    out = list(chosen)
    playing = int(catalogue.album[current]) if current is not None else 0
    if (
        current is not None
        and previous is not None
        and next_on_album(catalogue, previous) == current
    ):
        after = next_on_album(catalogue, current)
        if after is not None and after in out:
            out.remove(after)
            out.insert(0, after)
        elif after is not None:
            held = [i for i, item in enumerate(out) if catalogue.album[item] == playing]
            drop = held[-1] if held else len(out) - 1  # the album's lowest-ranked, or the last
            if can_take(after, out[drop]):
                del out[drop]
                out.insert(0, after)
    albums = catalogue.album[out].tolist()
    numbered = catalogue.track_no[out].tolist()
    places: dict[int, list[int]] = {}
    for i, (album, number) in enumerate(zip(albums, numbered, strict=True)):
        if album and number > 0:
            places.setdefault(album, []).append(i)
    here = place(catalogue, current) if current is not None and playing else (0, 0)
    for album, at in places.items():
        if len(at) < 2:
            continue
        keys = [place(catalogue, out[i]) for i in at]
        # the album playing: what comes after the track playing first, then the rest
        ranked = sorted(
            zip(keys, at, strict=True), key=lambda p: (album == playing and p[0] <= here, p[0])
        )
        tracks = [out[i] for _, i in ranked]
        for i, item in zip(at, tracks, strict=True):
            out[i] = item
    return out
