"""Whole-process `segue scan` beside its simpler peer: one process, a ``mutagen.File(easy=True)``
loop reading title, artist, album, album artist, genre, date, track number, length and
bitrate into SQLite (issue 15). Same library, same interpreter, alternate runs, each into a
fresh database; medians of wall and CPU seconds (children included), their ratios and the
load average go to ``benchmarks/results/scan_peer.json``.

The library (default 3,000 files: MP3, FLAC, M4A, Ogg Vorbis, Opus; unicode folder and
file names; 30% with a cover) is built once under ``benchmarks/.cache/scan-peer/``.
Run: ``.venv/bin/python benchmarks/scan_peer.py [--files 3000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import mutagen  # noqa: E402
from audio_fixtures import png_bytes, tag_file, write_audio  # noqa: E402

CACHE = HERE / ".cache" / "scan-peer"
RESULTS = HERE / "results" / "scan_peer.json"
FORMATS = ("mp3", "flac", "m4a", "ogg", "opus")
NAMES = ("Björk", "Sigur Rós", "坂本龍一", "Motörhead", "Ólafur Arnalds", "Zoë Keating", "ABBA")

PEER = r"""
import os, sqlite3, sys
import mutagen
root, db_path = sys.argv[1], sys.argv[2]
db = sqlite3.connect(db_path)
db.execute("create table tracks (path text primary key, title, artist, album, album_artist,"
           " genre, date, track_no, length, bitrate)")
def first(tags, key):
    value = tags.get(key) if tags is not None else None
    return value[0] if value else None
rows = []
for folder, _, names in os.walk(root):
    for name in names:
        path = os.path.join(folder, name)
        try:
            audio = mutagen.File(path, easy=True)
        except Exception:
            continue
        if audio is None:
            continue
        tags = audio.tags
        rows.append((path, first(tags, "title"), first(tags, "artist"), first(tags, "album"),
                     first(tags, "albumartist"), first(tags, "genre"), first(tags, "date"),
                     first(tags, "tracknumber"), getattr(audio.info, "length", None),
                     getattr(audio.info, "bitrate", None)))
        if len(rows) >= 500:
            with db:
                db.executemany("insert into tracks values (?,?,?,?,?,?,?,?,?,?)", rows)
            rows.clear()
with db:
    db.executemany("insert into tracks values (?,?,?,?,?,?,?,?,?,?)", rows)
print(db.execute("select count(*) from tracks").fetchone()[0])
"""


def build_library(count: int) -> Path:
    library = CACHE / f"music-{count}"
    marker = library / ".complete"
    if marker.exists():
        return library
    shutil.rmtree(library, ignore_errors=True)
    rng = random.Random(15)
    seeds = {}
    with tempfile.TemporaryDirectory() as work:
        for fmt in FORMATS:
            seeds[fmt] = write_audio(Path(work) / f"seed-{fmt}", fmt, seconds=20.0).read_bytes()
        for i in range(count):
            fmt = FORMATS[i % len(FORMATS)]
            artist = f"{rng.choice(NAMES)} {i // 100:02d}"
            folder = library / artist / f"Álbum {i // 10:04d} — ライブ"
            folder.mkdir(parents=True, exist_ok=True)
            title = f"Chanson n°{i} «{rng.choice(NAMES)}»"
            path = folder / f"{i % 10 + 1:02d} {title}.{'m4a' if fmt == 'm4a' else fmt}"
            path.write_bytes(seeds[fmt])
            tags = {
                "title": title,
                "artist": artist,
                "artists": [artist],
                "album": folder.name,
                "album_artist": artist,
                "genres": ["Rock", "Jazz"][: 1 + i % 2],
                "date": f"{1970 + i % 50}-05-01",
                "track_no": i % 10 + 1,
                "track_total": 10,
                "disc_no": 1,
                "disc_total": 1,
                "composer": artist,
                "bpm": 120,
                "mb_recording_id": f"{i:08d}-0000-4000-8000-000000000000",
                "replaygain_track_gain": -6.5,
            }
            cover = png_bytes(64, 64, (i % 256, 40, 90)) if rng.random() < 0.3 else None
            tag_file(path, fmt, tags, cover)
    marker.touch()
    return library


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    cpu = children_cpu()
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return time.perf_counter() - started, children_cpu() - cpu, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    library = build_library(args.files)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    segue = [sys.executable, str(Path(sys.executable).parent / "segue")]  # the console script
    load_before = os.getloadavg()
    runs: dict[str, list[tuple[float, float]]] = {"mutagen loop": [], "segue scan": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds + 1):  # round 0 warms the page cache, not counted
            db = Path(tmp) / f"peer{i}.db"
            wall, cpu, out = run([sys.executable, "-c", PEER, str(library), str(db)], env)
            assert int(out) == args.files, out
            if i:
                runs["mutagen loop"].append((wall, cpu))
            db = Path(tmp) / f"segue{i}.db"
            wall, cpu, out = run([*segue, "--db", str(db), "scan", str(library), "--json"], env)
            assert json.loads(out)["added"] == args.files, out
            if i:
                runs["segue scan"].append((wall, cpu))
    median = {
        name: {
            "wall_seconds": round(statistics.median(r[0] for r in values), 3),
            "cpu_seconds": round(statistics.median(r[1] for r in values), 3),
            "runs_wall": [round(r[0], 3) for r in values],
        }
        for name, values in runs.items()
    }
    peer, ours = median["mutagen loop"], median["segue scan"]
    results = {
        "benchmark": "scan_peer",
        "files": args.files,
        "formats": list(FORMATS),
        "rounds": args.rounds,
        "python": platform.python_version(),
        "mutagen": mutagen.version_string,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "page_cache": "warm (a first round ran before the measured ones)",
        "median": median,
        "wall_ratio_segue_to_peer": round(ours["wall_seconds"] / peer["wall_seconds"], 2),
        "cpu_ratio_segue_to_peer": round(ours["cpu_seconds"] / peer["cpu_seconds"], 2),
        "segue_files_per_s": round(args.files / ours["wall_seconds"]),
        "peer_files_per_s": round(args.files / peer["wall_seconds"]),
        "met": ours["wall_seconds"] <= peer["wall_seconds"],
    }
    for name, m in median.items():
        wall, cpu = m["wall_seconds"], m["cpu_seconds"]
        print(f"{name:13s} wall {wall:.2f} s  cpu {cpu:.2f} s  {m['runs_wall']}")
    print(
        f"segue/peer: wall {results['wall_ratio_segue_to_peer']}x, "
        f"cpu {results['cpu_ratio_segue_to_peer']}x; load {load_before} -> {os.getloadavg()}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
