"""Benchmark the library scanner on a 10,000-file library of mixed formats.

The library is built once and cached under ``benchmarks/.cache/scan-library/``: a few
distinct encoded payloads per format (about 1.0-1.4 MB each, so the files have realistic
sizes for the bytes a scan touches, though shorter than real songs), each copy fully
tagged, about a third with embedded cover art. Then it measures:

- a first scan with the library evicted from the page cache (``posix_fadvise`` DONTNEED),
- a first scan with the page cache warm,
- a rescan with nothing changed (in-process, and as the ``segue scan`` command).

Results go to ``benchmarks/results/scan.json``. Run: ``.venv/bin/python benchmarks/scan.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fixture writer (soundfile + PyAV + mutagen)

import mutagen  # noqa: E402
import numpy as np  # noqa: E402
from audio_fixtures import encode, tag_file  # noqa: E402

from player_plugin.library.scanner import scan  # noqa: E402
from player_plugin.store import open_db  # noqa: E402

CACHE = HERE / ".cache" / "scan-library"
RESULTS = HERE / "results" / "scan.json"
LIBRARY_VERSION = 2
TARGET_BYTES = 1_100_000  # per payload, roughly
PAYLOADS_PER_FORMAT = 3
COVER_SHARE = 0.3

# format -> share of the library
MIX = {
    "mp3": 0.30,
    "mp3-v23": 0.15,
    "flac": 0.20,
    "m4a": 0.12,
    "ogg": 0.06,
    "opus": 0.05,
    "alac": 0.03,
    "wma": 0.03,
    "wv": 0.02,
    "wav": 0.02,
    "aiff": 0.02,
}
EXT = {"mp3-v23": "mp3", "alac": "m4a"}
GENRES = [
    "Rock",
    "Pop",
    "Jazz",
    "Electronic",
    "Hip-Hop",
    "Classical",
    "Folk",
    "Metal",
    "Soul",
    "Ambient",
    "Reggae",
    "Blues",
]


def noise_png(rng: random.Random, side: int = 120) -> bytes:
    """A PNG of random pixels (~40 KB: incompressible, like a real JPEG cover)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def _payload(fmt: str, variant: int, work: Path) -> bytes:
    """Untagged audio of *fmt*, about TARGET_BYTES long (a tone: lossless codecs get a
    longer one, so every format ends near the same size)."""
    path = work / f"probe-{fmt}-{variant}.{EXT.get(fmt, fmt)}"
    seconds = 10.0
    for _ in range(3):  # sizes are not quite linear in length: correct twice
        encode(path, fmt, seconds=seconds, freq=220.0 + 110 * variant)
        seconds = max(2.0, min(900.0, seconds * TARGET_BYTES / path.stat().st_size))
    return path.read_bytes()


def _tags(rng: random.Random, i: int, artist: str, album: str, year: int) -> dict:
    return {
        "title": f"Song {i} {rng.choice(['of', 'for', 'in'])} {rng.choice(GENRES)} Night",
        "artist": artist,
        "artists": [artist],
        "album": album,
        "album_artist": artist,
        "genres": rng.sample(GENRES, rng.randint(1, 3)),
        "date": f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "track_no": i % 12 + 1,
        "track_total": 12,
        "disc_no": 1,
        "disc_total": 1,
        "composer": f"Composer {rng.randint(1, 500)}",
        "bpm": rng.randint(60, 180),
        "isrc": f"XX{rng.randint(0, 10**10):010d}",
        "mb_recording_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "mb_artist_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "mb_release_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "replaygain_track_gain": round(rng.uniform(-12, 3), 2),
        "replaygain_album_gain": round(rng.uniform(-12, 3), 2),
    }


def build_library(count: int) -> dict:
    """Write (or reuse) the cached library; returns its manifest."""
    manifest_path = CACHE / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("version") == LIBRARY_VERSION and manifest.get("files") == count:
            return manifest
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    rng = random.Random(42)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        payloads = {
            fmt: [_payload(fmt, v, Path(work)) for v in range(PAYLOADS_PER_FORMAT)] for fmt in MIX
        }
        elapsed = time.monotonic() - started
        print(f"  encoded {len(MIX) * PAYLOADS_PER_FORMAT} payloads ({elapsed:.0f} s)")
        formats = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
        total_bytes = 0
        covers = 0
        for i, fmt in enumerate(formats):
            artist = f"Artist {i // 120:03d}"
            album = f"Album {i // 12:04d}"
            folder = CACHE / artist / album
            folder.mkdir(parents=True, exist_ok=True)
            tags = _tags(rng, i, artist, album, 1960 + i % 60)
            path = folder / f"{i % 12 + 1:02d} - {tags['title']}.{EXT.get(fmt, fmt)}"
            path.write_bytes(rng.choice(payloads[fmt]))
            cover = noise_png(rng) if rng.random() < COVER_SHARE else None
            covers += cover is not None
            tag_file(path, fmt, tags, cover)
            total_bytes += path.stat().st_size
            if i % 1000 == 999:
                print(f"  built {i + 1}/{count} files ({time.monotonic() - started:.0f} s)")
    manifest = {
        "version": LIBRARY_VERSION,
        "files": count,
        "bytes": total_bytes,
        "with_cover": covers,
        "mix": {fmt: formats.count(fmt) for fmt in MIX},
        "build_seconds": round(time.monotonic() - started, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest


def library_files() -> list[bytes]:
    out = []
    for folder, _, names in os.walk(os.fsencode(CACHE)):
        out.extend(os.path.join(folder, n) for n in names if not n.endswith(b".json"))
    return out


def evict(paths: list[bytes]) -> str:
    """Drop the library's pages from the page cache (this guest's cache only)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return "cold: library evicted with posix_fadvise(DONTNEED) (the host may still cache)"


def resident_share(paths: list[bytes], sample: int = 300) -> float | None:
    """Share of a sample of the library's bytes in the page cache (util-linux ``fincore``)."""
    fincore = shutil.which("fincore")
    if fincore is None:
        return None
    chosen = random.Random(1).sample(paths, min(sample, len(paths)))
    out = subprocess.run(
        [fincore, "--raw", "--noheadings", "--bytes", "--output", "RES,SIZE", *chosen],
        capture_output=True,
        check=False,
    ).stdout.split()
    resident, size = sum(map(int, out[0::2])), sum(map(int, out[1::2]))
    return round(resident / size, 4) if size else None


def _cpu() -> float:
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_scan(db_path: Path, workers: int | None) -> tuple[float, object, float]:
    """Wall seconds, the summary, and CPU seconds (this process and its pool workers)."""
    db = open_db(db_path)
    cpu = _cpu()
    started = time.perf_counter()
    summary = scan(db, [CACHE], workers=workers)
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu
    db.close()
    return seconds, summary, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    print(f"library: {CACHE}")
    manifest = build_library(args.files)
    paths = library_files()
    print(
        f"  {len(paths)} files, {manifest['bytes'] / 1e9:.2f} GB, "
        f"{manifest['with_cover']} with cover art"
    )
    results: dict = {
        "files": len(paths),
        "library_bytes": manifest["bytes"],
        "mean_file_bytes": round(manifest["bytes"] / len(paths)),
        "with_cover": manifest["with_cover"],
        "mix": manifest["mix"],
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "python": platform.python_version(),
        "mutagen": mutagen.version_string,
        "numpy": np.__version__,
        "targets": {"first_scan_files_per_s": 1500, "rescan_seconds": 0.5},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        page_cache = evict(paths)
        before = resident_share(paths)
        load = os.getloadavg()[0]
        seconds, summary, cpu = timed_scan(tmp_path / "cold.db", args.workers)
        assert summary.added == len(paths), summary
        results["first_scan_cold"] = {
            "page_cache": page_cache,
            "resident_before": before,
            "seconds": round(seconds, 3),
            "files_per_s": round(len(paths) / seconds),
            "cpu_seconds": round(cpu, 2),
            "load_average_1min_before": load,
            "errors": summary.errors,
        }
        print(
            f"first scan, cold cache: {seconds:.2f} s = {len(paths) / seconds:.0f} files/s "
            f"({cpu:.1f} CPU s, load {load:.1f})"
        )

        # warm the pages a scan touches, then a fresh first scan
        timed_scan(tmp_path / "warmup.db", args.workers)
        runs = []
        for i in range(3):
            load = os.getloadavg()[0]
            seconds, summary, cpu = timed_scan(tmp_path / f"warm{i}.db", args.workers)
            runs.append((seconds, cpu, load))
        seconds, cpu, load = sorted(runs)[1]
        results["first_scan_warm"] = {
            "page_cache": "warm (the same scan ran just before)",
            "resident_share": resident_share(paths),
            "seconds": round(seconds, 3),
            "files_per_s": round(len(paths) / seconds),
            "cpu_seconds": round(cpu, 2),
            "load_average_1min_before": load,
            "runs_seconds": [round(r[0], 3) for r in runs],
            "note": "median of 3 fresh-database scans",
        }
        print(
            f"first scan, warm cache: {seconds:.2f} s = {len(paths) / seconds:.0f} files/s "
            f"({cpu:.1f} CPU s, load {load:.1f}; runs {[round(r[0], 2) for r in runs]})"
        )

        rescans = []
        for _ in range(5):
            seconds, summary, _ = timed_scan(tmp_path / "warm0.db", args.workers)
            assert summary.unchanged == len(paths) and summary.added == 0, summary
            rescans.append(round(seconds, 4))
        results["rescan_no_change"] = {
            "seconds_median": sorted(rescans)[len(rescans) // 2],
            "runs": rescans,
            "page_cache": "warm (directory entries and the database)",
        }
        print(f"no-change rescan: median {sorted(rescans)[2]:.3f} s over {rescans}")

        segue = Path(sys.executable).parent / "segue"
        started = time.perf_counter()
        out = subprocess.run(
            [str(segue), "--db", str(tmp_path / "warm0.db"), "scan", str(CACHE), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - started
        results["rescan_no_change_cli"] = {
            "wall_seconds": round(wall, 3),
            "reported_seconds": json.loads(out.stdout)["seconds"],
        }
        print(f"`segue scan` no-change rescan: {wall:.2f} s wall (Python start-up included)")
    results["load_average_after"] = os.getloadavg()
    results["met"] = {
        "first_scan_cold": results["first_scan_cold"]["files_per_s"] >= 1500,
        "first_scan_warm": results["first_scan_warm"]["files_per_s"] >= 1500,
        "rescan": results["rescan_no_change"]["seconds_median"] <= 0.5,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
