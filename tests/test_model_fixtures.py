"""Tiny synthetic histories and a tiny trained model, shared by the model's tests.

The listener has 12 artists with one 6-track album each and plays albums in order in
sessions, replaying favourites; some plays are skipped (a "skip artist" is always
skipped). Structure enough for a model to learn from in a second.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.store import models as reg
from player_plugin.store.catalogue import HistoryTrack, insert_history_tracks
from player_plugin.store.plays import log_play

N_ARTISTS, PER_ALBUM = 12, 6
T0 = 1_700_000_000_000
MIN = 60_000
SKIP_ARTIST = 11

_MODEL: dict[tuple, Path] = {}


def synthetic_catalogue() -> Catalogue:
    n = N_ARTISTS * PER_ALBUM
    artist = (np.arange(n) // PER_ALBUM + 1).astype(np.int32)
    return Catalogue(
        track_ids=np.arange(1, n + 1, dtype=np.int64),
        titles=[f"Track {i}" for i in range(n)],
        artist=artist,
        artist_names=[""] + [f"Artist {a}" for a in range(1, N_ARTISTS + 1)],
        album=artist.copy(),
        album_names=[""] + [f"Album {a}" for a in range(1, N_ARTISTS + 1)],
        duration_ms=np.full(n, 200_000, dtype=np.int32),
    )


def with_cold_tracks(
    artist: np.ndarray,
    album: np.ndarray,
    *,
    artists: int = 80,
    albums: int = 80,
    duration_ms: int | None = None,
) -> Catalogue:
    """The synthetic catalogue followed by never-played tracks of the given *artist* and
    *album* ids (0 = unknown), with *artists* / *albums* names (the empty one first), and a
    *duration_ms* for every track when given: enough cold items for the engine's shortcut."""
    small = synthetic_catalogue()
    all_artist = np.concatenate([small.artist, artist]).astype(np.int32)
    n = len(all_artist)
    return Catalogue(
        track_ids=np.arange(1, n + 1, dtype=np.int64),
        titles=[f"T{i}" for i in range(n)],
        artist=all_artist,
        artist_names=[""] + [f"Artist {a}" for a in range(1, artists)],
        album=np.concatenate([small.album, album]).astype(np.int32),
        album_names=[""] + [f"Album {a}" for a in range(1, albums)],
        duration_ms=None if duration_ms is None else np.full(n, duration_ms, dtype=np.int32),
    )


def cold_catalogue(extra: int = 600) -> Catalogue:
    """The synthetic catalogue and *extra* never-played tracks by never-played artists
    (the last 7 of unknown artist), each artist with an album of its own."""
    artist = 20 + np.arange(extra) % 50
    artist[-7:] = 0
    return with_cold_tracks(artist, artist.copy())


def synthetic_plays(n_plays: int = 400, seed: int = 0) -> list[Play]:
    """Album-ordered sessions over favourite artists, with skips, oldest first."""
    rng = np.random.default_rng(seed)
    plays: list[Play] = []
    t, session = T0, 0
    favourites = rng.permutation(np.arange(1, N_ARTISTS + 1))
    while len(plays) < n_plays:
        artist = int(favourites[min(int(rng.geometric(0.35)) - 1, N_ARTISTS - 1)])
        start = int(rng.integers(0, 3))
        for k in range(start, PER_ALBUM):
            item = (artist - 1) * PER_ALBUM + k
            skipped = artist == SKIP_ARTIST or rng.random() < 0.08
            ms = 20_000 if skipped else 200_000
            plays.append(Play(item, t, ms, "skipped" if skipped else "listened", session))
            t += ms + 2_000
            if len(plays) >= n_plays:
                break
        if rng.random() < 0.4:
            t += 3 * 60 * MIN
            session += 1
    return plays


def fill_store(db, n_plays: int = 400, seed: int = 0) -> tuple[Catalogue, list[Play]]:
    """Write the synthetic catalogue and plays into a real store (history tracks)."""
    cat = synthetic_catalogue()
    insert_history_tracks(
        db,
        [
            HistoryTrack(
                path=f"/music/{i:03d}.flac".encode(),
                match_key=f"artist {cat.artist[i]}\x1ftrack {i}",
                artist=cat.artist_names[cat.artist[i]],
                title=cat.titles[i],
                album=cat.album_names[cat.album[i]],
                duration_ms=200_000,
            )
            for i in range(len(cat))
        ],
    )
    ids = {bytes(r[1]): int(r[0]) for r in db.execute("SELECT id, path FROM tracks")}
    plays = synthetic_plays(n_plays, seed)
    for p in plays:
        track_id = ids[f"/music/{p.item:03d}.flac".encode()]
        log_play(
            db,
            track_id,
            started_at=p.started_at,
            ms_played=p.ms_played,
            reason="skipped" if p.outcome is Outcome.SKIPPED else "completed",
        )
    return cat, plays


def tiny_config(**changes):
    from training.model import Config

    base = {
        "epochs": 2,
        "batch": 64,
        "negatives": 16,
        "dim": 8,
        "hidden": 16,
        "feat_hidden": 8,
        "threads": 1,
        "patience": 5,
    }
    return Config(**(base | changes))


def trained_model(tmp_root: Path, *, blind: bool = False, n_plays: int = 300, **cfg) -> Path:
    """A tiny model trained in-process and exported (cached per process)."""
    from training.export import export_model
    from training.loop import train

    key = (blind, n_plays, tuple(sorted(cfg.items())))
    folder = _MODEL.get(key)
    if folder is not None and folder.is_dir():
        return folder
    cat, plays = synthetic_catalogue(), synthetic_plays(n_plays)
    config = tiny_config(**cfg)
    trained = train(plays, cat, config, blind=blind)
    folder = tmp_root / f"model-{len(_MODEL)}"
    export_model(
        trained.model,
        config,
        trained.vocab,
        folder,
        {
            "model_id": folder.name,
            "blind": blind,
            "cutoff_ms": plays[-1].started_at + 1,
            "data_size": len(plays),
            "metrics": {"validation": trained.metrics},
        },
    )
    _MODEL[key] = folder
    return folder


def test_synthetic_history_has_skips_and_sessions() -> None:
    plays = synthetic_plays(300)
    assert len(plays) == 300
    assert any(p.outcome is Outcome.SKIPPED for p in plays)
    assert len({p.session for p in plays}) > 5
    assert all(a.started_at < b.started_at for a, b in itertools.pairwise(plays))


def register_active(db, folder: Path, model_id: str = "m1", created: int = 1) -> None:
    """Copy the exported model *folder* into the store's models directory, register it as
    evaluated (only such a model may serve) and make it the active one."""
    root = reg.models_root(db)
    root.mkdir(exist_ok=True)
    shutil.copytree(folder, root / model_id)
    reg.add_model(
        db,
        model_id,
        folder=model_id,
        cutoff=1,
        data_size=1,
        metrics={"holdout": {"model": 0.0}},  # evaluated: only such a model can serve
        created_at=created,
    )
    reg.activate(db, model_id)
