"""The demo: an invented library of short synthesised pieces and an invented listening history.

``build_demo(folder)`` writes, in a folder of its own (never the user's library or
database), a few dozen FLAC files synthesised with numpy — six "genres" that differ for
real in tempo, key, timbre and loudness — tagged with invented artists, albums and genres
(Vorbis comments written by libsndfile), a cover image per album, and a listening history
clearly labelled as a demo (``DEMO-listening-history.json``, ListenBrainz format, imported
with the same importer users run). Qt-free: ``segue demo`` opens the player on it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from player_plugin.app.importing import ImportSession
from player_plugin.store.db import default_db_path

log = logging.getLogger(__name__)

SR = 22050
HISTORY_NAME = "DEMO-listening-history.json"
MARKER = "demo.json"
DEMO_CLIENT = "Segue demo (an invented listener; not anyone's real history)"


@dataclass(frozen=True)
class Genre:
    name: str
    bpm: float
    loudness: float  # target RMS level, dBFS
    colour: tuple[int, int, int]
    taste: float  # the invented listener's liking, 0..1
    hour: int  # when the listener tends to play it
    albums: tuple[tuple[str, str, tuple[str, ...]], ...]  # (artist, album, titles)


GENRES: tuple[Genre, ...] = (
    Genre(
        "Ambient",
        68,
        -30.0,
        (70, 120, 160),
        0.9,
        22,
        (
            (
                "Glass Harbour",
                "Low Tide Hours",
                ("Salt Light", "Drift Chart", "Harbour Fog", "Blue Ropes"),
            ),
            (
                "Mira Solenne",
                "Slow Weather",
                ("Cloud Ledger", "Rain Index", "Long Horizon", "Still Air"),
            ),
        ),
    ),
    Genre(
        "Techno",
        128,
        -13.0,
        (190, 60, 70),
        0.55,
        8,
        (
            ("Kessler Unit", "Concrete Pulse", ("Rebar", "Night Shift", "Gridline", "Floodlight")),
            ("VOLTA 9", "Night Freight", ("Cargo", "Signal Yard", "Diesel Heart", "Overpass")),
        ),
    ),
    Genre(
        "Folk",
        96,
        -23.0,
        (170, 130, 60),
        0.2,
        12,
        (
            (
                "The Alder Sisters",
                "Woodsmoke",
                ("Hollow Oak", "Ferry Song", "Lantern Way", "Bramble"),
            ),
            ("Tom Ferrow", "Hill Roads", ("Stone Wall", "Late Harvest", "Drover", "Kettle Hill")),
        ),
    ),
    Genre(
        "Jazz",
        116,
        -21.0,
        (60, 70, 140),
        0.85,
        21,
        (
            (
                "Nadia Quist Trio",
                "Blue Hour Sketches",
                ("Velvet Stairs", "Smoke Ring", "Quiet Avenue", "Nine to Late"),
            ),
            ("Otis Marlowe", "Late Set", ("Last Call", "Brass Lamp", "Corner Booth", "Taxi Home")),
        ),
    ),
    Genre(
        "Drum & Bass",
        174,
        -14.0,
        (60, 160, 110),
        0.6,
        18,
        (
            ("Subframe", "Pressure Systems", ("Isobar", "Cold Front", "Squall Line", "Eye Wall")),
            ("Kaia Rush", "Rollers", ("Tarmac", "Slipstream", "Night Bus", "Exit Ramp")),
        ),
    ),
    Genre(
        "Classical",
        72,
        -27.0,
        (150, 120, 170),
        0.75,
        20,
        (
            ("Aurel Ensemble", "Études in Grey", ("Étude I", "Étude II", "Étude III", "Étude IV")),
            (
                "Lena Hartvig",
                "Nocturnes for Strings",
                ("Nocturne in A", "Nocturne in D", "Nocturne in F", "Nocturne in C"),
            ),
        ),
    ),
)

MAJOR = (0, 4, 7, 11)
MINOR = (0, 3, 7, 10)


@dataclass(frozen=True)
class DemoTrack:
    path: Path
    genre: str
    artist: str
    album: str
    title: str
    duration_ms: int
    index: int


# -- synthesis -------------------------------------------------------------------------------
def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _env(n: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / max(decay, 1e-4))


def _place(out: np.ndarray, start: int, sound: np.ndarray) -> None:
    end = min(len(out), start + len(sound))
    if start < end:
        out[start:end] += sound[: end - start]


def _kick(rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * SR)
    t = np.arange(n) / SR
    freq = 45 + 90 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * 12)


def _noise_hit(rng: np.random.Generator, seconds: float, decay: float, bright: bool) -> np.ndarray:
    noise = rng.standard_normal(int(seconds * SR))
    if bright:
        noise = np.diff(noise, prepend=0.0)
    return noise * _env(len(noise), 0.001, decay) * 0.5


def _tone(freq: float, n: int, harmonics: tuple[float, ...], vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(n) / SR
    phase = 2 * np.pi * freq * t
    if vibrato:
        phase += vibrato * np.sin(2 * np.pi * 5.5 * t)
    return sum((a * np.sin((k + 1) * phase) for k, a in enumerate(harmonics)), np.zeros(n))


def _pluck(freq: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong: a plucked string."""
    period = max(2, int(SR / freq))
    buf = rng.uniform(-1, 1, period)
    out = np.empty(n)
    for start in range(0, n, period):
        chunk = buf[: min(period, n - start)]
        out[start : start + len(chunk)] = chunk
        buf = 0.996 * 0.5 * (buf + np.roll(buf, -1))
    return out


def synthesise(genre: Genre, seconds: float, root: int, rng: np.random.Generator) -> np.ndarray:
    """A short piece in *genre*: its tempo, a key from *root*, its timbre and loudness."""
    n = int(seconds * SR)
    out = np.zeros(n)
    beat = 60.0 / (genre.bpm * rng.uniform(0.97, 1.03))
    beats = int(seconds / beat)
    scale = MINOR if genre.name in ("Classical", "Drum & Bass", "Techno") else MAJOR
    progression = [0, 5, 7, 3] if scale is MINOR else [0, 5, 7, 9]
    name = genre.name
    for b in range(beats):
        at = int(b * beat * SR)
        chord_root = root + progression[(b // 4) % 4]
        if name == "Ambient" and b % 8 == 0:
            length = int(beat * 8.5 * SR)
            for iv in scale[:3]:
                pad = _tone(_hz(chord_root + iv - 12), length, (0.6, 0.15), vibrato=0.3)
                _place(out, at, pad * _env(length, 2.0, 6.0) * 0.3)
        elif name == "Techno":
            _place(out, at, _kick(rng))
            _place(out, at + int(beat * SR / 2), _noise_hit(rng, 0.05, 0.015, True))
            length = int(beat * SR / 2)
            saw = sum(
                np.sin(2 * np.pi * k * _hz(chord_root - 24) * np.arange(length) / SR) / k
                for k in range(1, 8)
            )
            _place(out, at + length, saw * _env(length, 0.005, 0.12) * 0.25)
        elif name == "Folk":
            note = chord_root + scale[b % 3] + (12 if b % 4 == 3 else 0)
            length = int(beat * 2 * SR)
            _place(out, at, _pluck(_hz(note), length, rng) * 0.5)
        elif name == "Jazz":
            swing = int((beat * (0.0 if b % 2 == 0 else 0.16)) * SR)
            bass = _tone(_hz(chord_root - 24 + scale[b % 4]), int(beat * SR), (0.8, 0.2))
            _place(out, at, bass * _env(len(bass), 0.01, 0.4) * 0.5)
            if b % 2 == 0:
                length = int(beat * 1.5 * SR)
                for iv in scale:
                    key = _tone(_hz(chord_root + iv), length, (0.5, 0.25, 0.12, 0.06))
                    _place(out, at + swing, key * _env(length, 0.003, 0.5) * 0.16)
            _place(out, at + swing, _noise_hit(rng, 0.12, 0.06, False) * 0.15)
        elif name == "Drum & Bass":
            step = b % 4
            if step in (0, 2):
                _place(out, at, _kick(rng) * (1.0 if step == 0 else 0.7))
            else:
                _place(out, at, _noise_hit(rng, 0.18, 0.07, False))
            _place(out, at + int(beat * SR / 2), _noise_hit(rng, 0.04, 0.01, True) * 0.6)
            if step == 0:
                length = int(beat * 4 * SR)
                sub = _tone(_hz(chord_root - 24), length, (1.0, 0.1))
                _place(out, at, sub * _env(length, 0.02, 1.5) * 0.6)
        elif name == "Classical" and b % 2 == 0:
            length = int(beat * 2.2 * SR)
            for iv in (scale[0], scale[1], scale[2]):
                voice = _tone(_hz(chord_root + iv), length, (0.7, 0.3, 0.2, 0.1), vibrato=0.6)
                _place(out, at, voice * _env(length, 0.35, 2.5) * 0.18)
    fade = min(n // 4, int(1.5 * SR))
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    rms = float(np.sqrt(np.mean(out**2))) or 1.0
    out *= 10 ** (genre.loudness / 20) / rms
    return np.tanh(out).astype(np.float32)  # soft-limits the loud genres' peaks


# -- cover images (a PNG written by hand: no imaging library needed) ------------------------
def _png(pixels: np.ndarray) -> bytes:
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def cover_png(colour: tuple[int, int, int], seed: int, size: int = 160) -> bytes:
    """An abstract album cover: a gradient in the genre's colour with rings."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    cx, cy = rng.uniform(0.3, 0.7, 2)
    ring = 0.5 + 0.5 * np.cos(np.hypot(x - cx, y - cy) * rng.uniform(18, 40))
    shade = 0.55 + 0.45 * (1 - y) * (0.7 + 0.3 * ring)
    base = np.array(colour, dtype=float)
    pixels = np.clip(base[None, None, :] * shade[..., None] + 40 * ring[..., None], 0, 255)
    return _png(pixels.astype(np.uint8))


# -- the library ---------------------------------------------------------------------------
def write_library(
    music: Path,
    *,
    seed: int = 7,
    tracks_per_album: int = 3,
    seconds: tuple[float, float] = (32.0, 46.0),
    progress: Callable[[int, int], None] | None = None,
) -> list[DemoTrack]:
    """Synthesise and tag the demo pieces under *music*; the tracks written."""
    rng = np.random.default_rng(seed)
    plan = [
        (genre, artist, album, titles[:tracks_per_album], g * 2 + a)
        for g, genre in enumerate(GENRES)
        for a, (artist, album, titles) in enumerate(genre.albums)
    ]
    total = sum(len(p[3]) for p in plan)
    tracks: list[DemoTrack] = []
    for genre, artist, album, titles, album_no in plan:
        folder = music / genre.name.replace("&", "and") / f"{artist} - {album}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cover.png").write_bytes(cover_png(genre.colour, seed * 100 + album_no))
        root = 57 + int(rng.integers(0, 12))
        year = 1998 + int(rng.integers(0, 26))
        for number, title in enumerate(titles, 1):
            length = float(rng.uniform(*seconds))
            audio = synthesise(genre, length, root + (number - 1) * 2, rng)
            path = folder / f"{number:02d} {title}.flac"
            with sf.SoundFile(path, "w", SR, 1, format="FLAC", subtype="PCM_16") as handle:
                handle.title = title
                handle.artist = artist
                handle.album = album
                handle.genre = genre.name
                handle.date = str(year)
                handle.tracknumber = str(number)
                handle.comment = "Segue demo: synthesised, invented artist"
                handle.write(audio)
            tracks.append(
                DemoTrack(path, genre.name, artist, album, title, int(length * 1000), len(tracks))
            )
            if progress is not None:
                progress(len(tracks), total)
    return tracks


# -- the invented listener -------------------------------------------------------------------
def write_history(
    tracks: list[DemoTrack],
    path: Path,
    *,
    seed: int = 7,
    days: int = 84,
    now_ms: int | None = None,
) -> int:
    """An invented listening history (ListenBrainz JSON, labelled demo); plays written.

    The listener likes ambient, jazz and classical in the evening, techno in the morning,
    skips most folk, and follows a genre through a session. A third of the tracks are
    never played, so "discover" has something to find.
    """
    rng = np.random.default_rng(seed + 1)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    taste = {g.name: g for g in GENRES}
    heard = [t for t in tracks if t.index % 3 != 2]  # every third track stays unplayed
    by_genre: dict[str, list[DemoTrack]] = {}
    for t in heard:
        by_genre.setdefault(t.genre, []).append(t)
    names = list(by_genre)
    weights = np.array([taste[g].taste for g in names])
    listens: list[dict] = []
    day_ms = 24 * 3600 * 1000
    start_day = now - days * day_ms
    for day in range(days):
        for _ in range(int(rng.integers(1, 3))):
            genre = names[int(rng.choice(len(names), p=weights / weights.sum()))]
            hour = taste[genre].hour + float(rng.normal(0, 1.0))
            at = start_day + day * day_ms + int(hour * 3600 * 1000)
            for _ in range(int(rng.integers(5, 12))):
                if rng.random() < 0.2:
                    genre = names[int(rng.choice(len(names), p=weights / weights.sum()))]
                track = by_genre[genre][int(rng.integers(0, len(by_genre[genre])))]
                liked = rng.random() < taste[genre].taste
                ms = (
                    track.duration_ms if liked else int(track.duration_ms * rng.uniform(0.15, 0.35))
                )
                listens.append(_listen(track, at, ms, "completed" if liked else "skipped"))
                at += ms + int(rng.integers(500, 3000))
    # the current session: ended ten minutes ago, in the evening mood
    at = now - 10 * 60 * 1000 - 4 * 45_000
    evening = [g for g in ("Jazz", "Ambient", "Classical") if g in by_genre] or names
    for genre in (evening[0], evening[0], evening[-1], evening[0]):
        track = by_genre[genre][int(rng.integers(0, len(by_genre[genre])))]
        listens.append(_listen(track, at, track.duration_ms, "completed"))
        at += track.duration_ms + 1000
    listens = [item for item in listens if item["listened_at"] * 1000 < now]
    listens.sort(key=lambda item: item["listened_at"])
    path.write_text(json.dumps(listens, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(listens)


def _listen(track: DemoTrack, at_ms: int, ms_played: int, reason: str) -> dict:
    return {
        "listened_at": at_ms // 1000,
        "track_metadata": {
            "artist_name": track.artist,
            "track_name": track.title,
            "release_name": track.album,
            "additional_info": {
                "duration_ms": track.duration_ms,
                "ms_played": ms_played,
                "segue_reason": reason,
                "segue_skipped": reason == "skipped",
                "segue_source": "user",
                "submission_client": DEMO_CLIENT,
            },
        },
    }


# -- putting it together ---------------------------------------------------------------------
def demo_home() -> Path:
    """``$SEGUE_HOME/demo``, else the platform's user data folder ``/demo``."""
    return default_db_path().parent / "demo"


def demo_paths(folder: Path) -> tuple[Path, Path, Path]:
    """(music folder, database, history file) of the demo in *folder*."""
    return folder / "music", folder / "segue.db", folder / HISTORY_NAME


def is_built(folder: Path) -> bool:
    return (folder / MARKER).is_file() and demo_paths(folder)[1].is_file()


def build_demo(
    folder: Path,
    *,
    seed: int = 7,
    tracks_per_album: int = 3,
    seconds: tuple[float, float] = (32.0, 46.0),
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write the demo library and history in *folder*, scan and import them into the demo's
    own database; a summary. Rebuilds from scratch (the folder is the demo's alone)."""
    folder = Path(folder)
    music, db_path, history = demo_paths(folder)
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise FileExistsError(f"{folder} is not a Segue demo folder; refusing to touch it")
    _clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tracks = write_library(
        music,
        seed=seed,
        tracks_per_album=tracks_per_album,
        seconds=seconds,
        progress=(lambda d, t: progress("synthesising", d, t)) if progress else None,
    )
    plays = write_history(tracks, history, seed=seed)
    session = ImportSession(db_path)
    summary = session.scan([os.fsencode(music)])
    report = session.import_history([history])
    info = {
        "folder": str(folder),
        "database": str(db_path),
        "tracks": len(tracks),
        "scanned": getattr(summary, "added", None),
        "history_plays": plays,
        "matched": getattr(report, "matched", None),
        "seconds": round(time.monotonic() - started, 2),
    }
    (folder / MARKER).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def _clear(folder: Path) -> None:
    """Remove a previous demo's files (only files the demo writes)."""
    music, db_path, history = demo_paths(folder)
    if music.is_dir():
        for path in sorted(music.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_file() and path.suffix in (".flac", ".png"):
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for path in (db_path, history, folder / MARKER):
        for extra in ("", "-wal", "-shm"):
            target = Path(str(path) + extra)
            if target.exists():
                target.unlink()
    models = folder / "models"
    if models.is_dir():
        log.info("keeping %s (models of the previous demo)", models)


def total_seconds(tracks: list[DemoTrack]) -> float:
    return math.fsum(t.duration_ms for t in tracks) / 1000
