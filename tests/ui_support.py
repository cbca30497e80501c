"""Helpers for the desktop tests: a small real library (tagged FLAC tones, scanned into the
store) and a played history, shared by tests/test_ui*.py, test_player*.py and friends."""

from __future__ import annotations

import os
from pathlib import Path

from audio_fixtures import png_bytes, write_audio

from player_plugin.library.scanner import scan
from player_plugin.store.plays import log_play

GENRES = ("Jazz", "Techno", "Folk", "Ambient")
DAY_MS = 24 * 3600 * 1000
T0 = 1_760_000_000_000  # a fixed past moment (ms), so tests are deterministic


def write_library(root: Path, *, artists: int = 4, per_artist: int = 3, seconds: float = 0.6):
    """Tagged FLAC tones: artist ``Artist A..``, album per artist, a genre per artist."""
    paths: list[Path] = []
    for a in range(artists):
        artist = f"Artist {chr(65 + a)}"
        for t in range(per_artist):
            path = write_audio(
                root / artist / f"{t + 1:02d} Song {a}{t}.flac",
                "flac",
                seconds=seconds,
                freq=220.0 + 40 * a + 10 * t,
                tags={
                    "title": f"Song {a}{t}",
                    "artist": artist,
                    "album": f"Album {chr(65 + a)}",
                    "genres": [GENRES[a % len(GENRES)]],
                    "track_no": t + 1,
                    "date": "2001",
                },
                cover=png_bytes(4, 4, (30 * a % 256, 100, 200)) if t == 0 else None,
            )
            paths.append(path)
    return paths


def scanned(db, root: Path) -> list[dict]:
    """Scan *root* into *db*; the track rows (id, path, artist, title), ordered by id."""
    scan(db, [os.fsencode(root)], workers=0)
    return list(db.query("SELECT id, path, artist, title, genres FROM tracks ORDER BY id"))


def played(db, tracks: list[dict], *, played_ids: set[int], sessions: int = 6) -> int:
    """Listened plays of the tracks in *played_ids*, in short sessions a day apart."""
    n = 0
    chosen = [t for t in tracks if t["id"] in played_ids]
    for s in range(sessions):
        at = T0 + s * DAY_MS
        for i, track in enumerate(chosen):
            log_play(
                db,
                track["id"],
                started_at=at + i * 60_000,
                ms_played=600,
                duration_ms=600,
                reason="completed",
            )
            n += 1
    return n
