"""The item tower's inputs: training-window vocabularies and every item's encoding.

Vocabulary indices of the track, artist, album and genre (0 = not in the training
vocabulary), year and duration buckets, and the audio descriptor vector with a mask. Read
through :mod:`player_plugin.recommend.features`, the one module the trainer shares.

Vocabulary keys are the catalogue's own grouping keys (``store.catalogue`` groups artists
by :func:`~player_plugin.domain.normalize.clean_artist`, albums and genres by
:func:`~player_plugin.domain.normalize.fold`), so the tracks the catalogue holds for one
artist share one key however the artist is spelled ("The Beatles", "Beatles, The"). A model
exported before (its manifest has no ``vocab_keys``) keyed casefolded display names:
:meth:`Vocab.from_json` re-keys those with the same indices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.normalize import clean_artist, fold
from player_plugin.domain.play import Play

AUDIO_DIM = 41  # player_plugin.store.features.VECTOR_SIZE; other sizes are padded/cut
N_YEARS = 18  # 0 unknown, then 5-year buckets from 1950
DURATION_EDGES_MS = np.array([60e3, 120e3, 180e3, 240e3, 300e3, 420e3, 600e3, 900e3])
N_DURATIONS = len(DURATION_EDGES_MS) + 2

VOCAB_KEYS = "catalogue/1"  # the manifest's "vocab_keys": how vocabulary keys are made


def artist_name_key(name: str) -> str:
    return clean_artist(name)


def album_name_key(artist: str, album: str) -> str:
    name = fold(album)
    return f"{artist}\x1f{name}" if name else ""


def genre_name_key(name: str) -> str:
    return fold(name)


def artist_key(catalogue: Catalogue, item: int) -> str:
    return artist_name_key(catalogue.artist_names[catalogue.artist[item]])


def album_key(catalogue: Catalogue, item: int) -> str:
    return album_name_key(artist_key(catalogue, item), catalogue.album_names[catalogue.album[item]])


def genre_key(catalogue: Catalogue, item: int) -> str:
    return genre_name_key(catalogue.genre_names[catalogue.genre[item]])


def _rekey(keys: list, key: Callable[[str], str]) -> dict[str, int]:
    """Index of each re-keyed key (1-based, by position); where two old keys meet in one
    new key the first (the one seen first in training) keeps it."""
    out: dict[str, int] = {}
    for i, old in enumerate(keys):
        new = key(str(old))
        if new and new not in out:
            out[new] = i + 1
    return out


def _old_album_key(old: str) -> str:
    artist, _, album = old.partition("\x1f")
    return album_name_key(artist_name_key(artist), album)


@dataclass
class Vocab:
    """Training-window vocabularies: key → index (1-based; 0 = unknown)."""

    items: dict[int, int] = field(default_factory=dict)  # store track id → index
    artists: dict[str, int] = field(default_factory=dict)
    albums: dict[str, int] = field(default_factory=dict)
    genres: dict[str, int] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        return {
            "items": len(self.items) + 1,
            "artists": len(self.artists) + 1,
            "albums": len(self.albums) + 1,
            "genres": len(self.genres) + 1,
        }

    def to_json(self) -> dict:
        def ordered(d: dict) -> list:
            return [k for k, _ in sorted(d.items(), key=lambda kv: kv[1])]

        return {
            "items": ordered(self.items),
            "artists": ordered(self.artists),
            "albums": ordered(self.albums),
            "genres": ordered(self.genres),
        }

    @classmethod
    def from_json(cls, data: dict, keys: str | None = VOCAB_KEYS) -> Vocab:
        """The vocabularies of ``vocab.json``; *keys* is the manifest's ``vocab_keys``
        (None: a model from before it, keyed by casefolded display names, re-keyed here
        to the catalogue's keys with the same indices)."""

        def index(keys: list) -> dict:
            return {k: i + 1 for i, k in enumerate(keys)}

        if keys == VOCAB_KEYS:
            artists, albums, genres = (index(data[k]) for k in ("artists", "albums", "genres"))
        elif keys is None:
            artists = _rekey(data["artists"], artist_name_key)
            albums = _rekey(data["albums"], _old_album_key)
            genres = _rekey(data["genres"], genre_name_key)
        else:
            raise ValueError(f"vocabulary keys {keys!r}, this Segue reads {VOCAB_KEYS!r}")
        return cls(
            items=index([int(k) for k in data["items"]]),
            artists=artists,
            albums=albums,
            genres=genres,
        )


def build_vocab(catalogue: Catalogue, plays: Sequence[Play]) -> Vocab:
    """Vocabularies from the tracks played in *plays* only (the training window), in
    order of first play, so the same data always gives the same indices."""
    vocab = Vocab()
    for play in plays:
        item = play.item
        tid = int(catalogue.track_ids[item])
        if tid in vocab.items:
            continue
        vocab.items[tid] = len(vocab.items) + 1
        for table, key in (
            (vocab.artists, artist_key(catalogue, item)),
            (vocab.albums, album_key(catalogue, item)),
            (vocab.genres, genre_key(catalogue, item)),
        ):
            if key and key not in table:
                table[key] = len(table) + 1
    return vocab


def encode_items(catalogue: Catalogue, vocab: Vocab) -> dict[str, np.ndarray]:
    """Item-tower inputs for every catalogue item (names match the ONNX inputs)."""
    n = len(catalogue)
    ids = np.fromiter((vocab.items.get(int(t), 0) for t in catalogue.track_ids), np.int64, n)
    artist_idx = {
        code: vocab.artists.get(artist_name_key(name), 0)
        for code, name in enumerate(catalogue.artist_names)
    }
    artist = np.fromiter((artist_idx[int(a)] for a in catalogue.artist), np.int64, n)
    # an album's key depends only on (artist code, album code): each pair is keyed once
    pairs = np.stack(
        [np.asarray(catalogue.artist, dtype=np.int64), np.asarray(catalogue.album, np.int64)],
        axis=1,
    ).reshape(n, 2)
    distinct, which = np.unique(pairs, axis=0, return_inverse=True)
    pair_idx = np.fromiter(
        (
            vocab.albums.get(
                album_name_key(
                    artist_name_key(catalogue.artist_names[a]), catalogue.album_names[b]
                ),
                0,
            )
            for a, b in distinct.tolist()
        ),
        np.int64,
        len(distinct),
    )
    album = pair_idx[which.reshape(-1)] if n else np.zeros(0, dtype=np.int64)
    genre_idx = {
        code: vocab.genres.get(genre_name_key(name), 0)
        for code, name in enumerate(catalogue.genre_names)
    }
    genre = np.fromiter((genre_idx[int(g)] for g in catalogue.genre), np.int64, n)
    years = np.asarray(catalogue.year, dtype=np.int64)
    year = np.where(years > 0, 1 + np.clip((years - 1950) // 5, 0, N_YEARS - 2), 0)
    dur = np.asarray(catalogue.duration_ms, dtype=np.float64)
    duration = np.where(dur > 0, 1 + np.searchsorted(DURATION_EDGES_MS, dur), 0)
    audio = np.zeros((n, AUDIO_DIM), dtype=np.float32)
    mask = np.zeros((n, 1), dtype=np.float32)
    if catalogue.audio is not None and n:
        raw = np.asarray(catalogue.audio, dtype=np.float32)[:, :AUDIO_DIM]
        ok = ~np.isnan(raw).any(axis=1)
        audio[ok, : raw.shape[1]] = np.clip(raw[ok], -5, 5)
        mask[ok, 0] = 1.0
    return {
        "item_id": ids,
        "artist": artist,
        "album": album,
        "genre": genre.astype(np.int64),
        "year": year.astype(np.int64),
        "duration": duration.astype(np.int64),
        "audio": audio,
        "audio_mask": mask,
    }
