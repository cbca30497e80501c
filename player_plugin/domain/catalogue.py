"""The catalogue: every track a recommender may suggest, and a fixed order for ties."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


def tie_breaker(track_ids: np.ndarray) -> np.ndarray:
    """A fixed number in [0, 1) per track (splitmix64 of its store id): an order for equal
    scores that says nothing about the tracks (not when they were added: in a catalogue
    built from a history that is the order of first plays, the future of an evaluation)."""
    with np.errstate(over="ignore"):
        h = np.asarray(track_ids, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _unknown() -> np.ndarray:
    """An empty column: the catalogue fills it with zeros (unknown) for every item."""
    return np.zeros(0, dtype=np.int32)


@dataclass
class Catalogue:
    """Every track a recommender may suggest, with what we know about each.

    Item ``i`` is store track ``track_ids[i]``. Categorical fields are indices into the
    name lists, 0 meaning unknown. ``audio`` holds one analysis vector per item (NaN rows
    where a track is not analysed) or is None when nothing is analysed.
    """

    track_ids: np.ndarray  # int64[n]
    titles: list[str]
    artist: np.ndarray  # int32[n], index into artist_names
    artist_names: list[str]  # artist_names[0] == "" (unknown)
    album: np.ndarray  # int32[n], index into album_names
    album_names: list[str]
    # Left out (empty): all unknown, filled with zeros by __post_init__.
    genre: np.ndarray = field(default_factory=_unknown)  # int32[n], first genre
    genre_names: list[str] = field(default_factory=lambda: [""])
    year: np.ndarray = field(default_factory=_unknown)  # int32[n], 0 = unknown
    duration_ms: np.ndarray = field(default_factory=_unknown)  # int32[n], 0 = unknown
    audio: np.ndarray | None = None  # float32[n, d]
    paths: list[bytes] | None = None
    track_no: np.ndarray = field(default_factory=_unknown)  # int32[n], 0 = unknown
    disc_no: np.ndarray = field(default_factory=_unknown)  # int32[n], 0 = unknown (one disc)

    def __post_init__(self) -> None:
        n = len(self.track_ids)
        for name in ("genre", "year", "duration_ms", "track_no", "disc_no"):
            value = getattr(self, name)
            if value is None or (len(value) == 0 and n > 0):
                setattr(self, name, np.zeros(n, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.track_ids)

    @cached_property
    def ids_ascend(self) -> bool:
        """Whether ``track_ids`` ascend strictly (as the store reads them), found once: a
        catalogue's arrays are not written after it is made."""
        return bool((np.diff(self.track_ids) > 0).all())

    @cached_property
    def numbered(self) -> bool:
        """Whether any track has a track number (a history-built catalogue has none)."""
        return bool(self.track_no.any())

    @cached_property
    def album_memo(self) -> dict[int, tuple[list[tuple[int, int]], list[int]]]:
        """Album → the (disc, track) places and the items of its numbered tracks in order,
        filled as asked for (:func:`~player_plugin.recommend.album_order.album_tracks`)."""
        return {}

    def describe(self, item: int) -> str:
        """ "Artist – Title" for messages and explanations."""
        artist = self.artist_names[self.artist[item]]
        return f"{artist} – {self.titles[item]}" if artist else self.titles[item]
