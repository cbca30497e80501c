"""Audio-analysis throughput and sanity, on generated 3-minute tracks and on real music.

    .venv/bin/python benchmarks/analyze.py [--tracks 24] [--workers N] [--real DIR | --no-real]

1. Generates music-like 3-minute stereo tracks (drums at a known tempo, chord progressions
   in a known key, bass), cached under benchmarks/.cache/analyze/, in FLAC, Ogg Vorbis, MP3
   and M4A (AAC, encoded and decoded by PyAV).
2. Scans them into a fresh store and times `analyse_library` with a pool of workers, from
   the pool's start (spawn and librosa warm-up included) to the last commit. Reports
   tracks/s, the CPU seconds the workers used (their start included), the load average,
   and how often tempo and key match the generated truth; then, in this process once warm,
   the CPU seconds per track: the figure other processes' load cannot distort.
3. The same on real music (Debian's wesnoth-1.16-music: 41 Ogg Vorbis tracks, GPL) when
   present, with the spread (min/median/max) of every scalar feature.

Saves benchmarks/results/analyze.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))  # the fixture writer's PyAV encoder

from audio_fixtures import encode_pyav  # noqa: E402

from player_plugin.library.analysis import analyse_file, warm_up  # noqa: E402
from player_plugin.library.analyze_job import analyse_library, default_workers  # noqa: E402
from player_plugin.library.scanner import scan  # noqa: E402
from player_plugin.store import open_db  # noqa: E402
from player_plugin.store.features import EXTRACTOR_VERSION, PITCH_CLASSES  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache" / "analyze"
RESULTS = ROOT / "benchmarks" / "results" / "analyze.json"
WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/music")
RATE = 44_100
SECONDS = 180.0
SCALARS = (
    "tempo_bpm",
    "beat_strength",
    "loudness_lufs",
    "dynamic_range_db",
    "energy",
    "brightness",
    "rolloff_hz",
    "flatness",
    "key_strength",
)


# -- generated music ---------------------------------------------------------------------


def _note(freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    y = sum(np.sin(2 * np.pi * freq * h * t + rng.uniform(0, 6.28)) / h**1.5 for h in range(1, 6))
    return y * np.exp(-t * 1.5) * np.minimum(1, t / 0.01)


def _drum(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.25 * RATE)) / RATE
    if kind == "kick":
        return np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    noise = rng.standard_normal(len(t))
    if kind == "snare":
        return 0.6 * noise * np.exp(-t * 20) + 0.3 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25)
    return 0.15 * np.diff(noise, prepend=0) * np.exp(-t * 60)  # hi-hat


def generate(seed: int) -> tuple[np.ndarray, dict]:
    """A 3-minute stereo track and its truth (tempo, key)."""
    rng = np.random.default_rng(seed)
    bpm = float(rng.uniform(80, 160))
    tonic, mode = int(rng.integers(12)), ("major", "minor")[int(rng.integers(2))]
    third = 4 if mode == "major" else 3
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    beat = 60.0 / bpm
    n = int(SECONDS * RATE)
    music = np.zeros(n + RATE)
    drums = {kind: _drum(kind, rng) for kind in ("kick", "snare", "hat")}
    bar, beats = 0, int(SECONDS / beat)
    for b in range(beats):
        start = int(b * beat * RATE)
        parts = [("kick", 1.0)] if b % 2 == 0 else [("snare", 0.8)]
        for kind, gain in parts:
            hit = drums[kind]
            music[start : start + len(hit)] += gain * hit[: len(music) - start]
        for half in (0, 1):
            s = start + int(half * beat / 2 * RATE)
            hat = drums["hat"]
            music[s : s + len(hat)] += hat[: len(music) - s]
        if b % 4 == 0:
            chord = chords[bar % 4]
            root = 60 + tonic
            for i in chord:
                tone = 0.25 * _note(440 * 2 ** ((root + i - 69) / 12), 4 * beat, rng)
                music[start : start + len(tone)] += tone[: len(music) - start]
            bass = 0.4 * _note(440 * 2 ** ((root + chord[0] - 24 - 69) / 12), 4 * beat, rng)
            music[start : start + len(bass)] += bass[: len(music) - start]
            bar += 1
    music = music[:n] + 0.003 * rng.standard_normal(n)
    gain = 10 ** (rng.uniform(-12, -1) / 20)
    music = gain * music / np.abs(music).max()
    pan = rng.uniform(0.8, 1.0)
    stereo = np.stack([music * pan, music * (2 - pan)], axis=1).astype(np.float32)
    return stereo, {"tempo_bpm": round(bpm, 2), "key": f"{PITCH_CLASSES[tonic]} {mode}"}


def _encode(path: Path, data: np.ndarray) -> None:
    kinds = {".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"), ".mp3": ("MP3", None)}
    if path.suffix in kinds:
        container, subtype = kinds[path.suffix]
        with sf.SoundFile(str(path), "w", RATE, 2, subtype, format=container) as out:
            for start in range(0, len(data), 65536):
                out.write(data[start : start + 65536])
    else:
        encode_pyav(path, "m4a", data, RATE)


def synth_library(count: int) -> tuple[Path, dict[str, dict]]:
    folder = CACHE / "synth"
    folder.mkdir(parents=True, exist_ok=True)
    formats = [".flac", ".ogg", ".mp3", ".m4a"]
    truth_file = folder / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.exists() else {}
    wanted = {f"track{i:03d}{formats[i % len(formats)]}" for i in range(count)}
    for stale in folder.glob("track*"):
        if stale.name not in wanted:
            stale.unlink()
    for i in range(count):
        name = f"track{i:03d}{formats[i % len(formats)]}"
        if name not in truth or not (folder / name).exists():
            print(f"generating {name}", file=sys.stderr)
            data, truth[name] = generate(i)
            _encode(folder / name, data)
    truth = {k: v for k, v in truth.items() if k in wanted}
    truth_file.write_text(json.dumps(truth, indent=1))
    return folder, truth


# -- measuring ---------------------------------------------------------------------------


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(folder: Path, workers: int) -> tuple[dict, list[dict]]:
    """Scan *folder* into a fresh store, analyse it; the timing and every track's result."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        db = open_db(Path(tmp) / "bench.db")
        scanned = scan(db, [folder])
        load_before = os.getloadavg()
        first: list[float] = []
        cpu_before = _children_cpu()
        start = time.perf_counter()
        summary = analyse_library(
            db,
            workers=workers,
            progress=lambda p: first or first.append(time.perf_counter()),
        )
        wall = time.perf_counter() - start
        cpu = _children_cpu() - cpu_before
        load_after = os.getloadavg()
        rows = [
            {"name": Path(os.fsdecode(path)).name, "error": error, **json.loads(desc or "{}")}
            for path, error, desc in db.execute(
                "SELECT t.path, f.error, f.descriptors FROM tracks t "
                "JOIN features f ON f.track_id = t.id ORDER BY t.path"
            )
        ]
        db.close()
    done = summary.analysed + summary.failed
    steady = wall - (first[0] - start) if first else wall
    timing = {
        "tracks": scanned.added,
        "analysed": summary.analysed,
        "failed": summary.failed,
        "workers": workers,
        "seconds": round(wall, 2),
        "tracks_per_s": round(done / wall, 2),
        "tracks_per_s_after_first_result": round((done - 1) / steady, 2) if done > 1 else None,
        "pool_start_to_first_result_s": round(first[0] - start, 2) if first else None,
        "worker_cpu_s_per_track": round(cpu / done, 3) if done else None,
        "tracks_per_cpu_s": round(done / cpu, 2) if cpu else None,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }
    return timing, rows


def _cpu_self_and_children() -> float:
    return sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def steady_cpu(folder: Path, count: int) -> dict:
    """CPU seconds per track in this process once warmed up (decode + analysis, ffmpeg
    included): the figure other helpers' load cannot distort. 2 / it = tracks/s that two
    idle cores would reach, less the pool's start."""
    files = sorted(p for p in folder.iterdir() if p.name != "truth.json" and p.is_file())
    files = files[:count]
    warm_up()
    cpu = _cpu_self_and_children()
    start = time.perf_counter()
    for path in files:
        analyse_file(path)
    cpu = _cpu_self_and_children() - cpu
    per_track = cpu / len(files)
    return {
        "tracks": len(files),
        "cpu_s_per_track": round(per_track, 3),
        "wall_s_per_track": round((time.perf_counter() - start) / len(files), 3),
        "projected_tracks_per_s_on_2_idle_cores": round(2 / per_track, 2),
    }


def spread(rows: list[dict]) -> dict:
    good = [r for r in rows if r.get("error") is None]
    out: dict = {}
    for name in SCALARS:
        values = [r[name] for r in good if r.get(name) is not None]
        if values:
            out[name] = {
                "min": min(values),
                "median": round(statistics.median(values), 4),
                "max": max(values),
                "n": len(values),
            }
    modes = [r["mode"] for r in good if r.get("mode")]
    out["mode"] = {m: modes.count(m) for m in sorted(set(modes))}
    keys = [r["key"] for r in good if r.get("key")]
    out["key"] = {k: keys.count(k) for k in sorted(set(keys), key=keys.count, reverse=True)}
    decoders = [r["decoder"] for r in good if r.get("decoder")]
    out["decoder"] = {d: decoders.count(d) for d in sorted(set(decoders))}
    return out


def accuracy(rows: list[dict], truth: dict[str, dict]) -> dict:
    tempo_ok = octave = key_ok = relative = 0
    for r in rows:
        want = truth[r["name"]]
        got = r.get("tempo_bpm") or 0.0
        if abs(got / want["tempo_bpm"] - 1) <= 0.02:
            tempo_ok += 1
        elif any(abs(got / (want["tempo_bpm"] * f) - 1) <= 0.02 for f in (0.5, 2.0, 1 / 3, 3)):
            octave += 1
        if r.get("key") == want["key"]:
            key_ok += 1
        elif r.get("key"):
            tonic, mode = want["key"].split()
            i = PITCH_CLASSES.index(tonic)
            rel = (
                f"{PITCH_CLASSES[(i + 9) % 12]} minor"
                if mode == "major"
                else f"{PITCH_CLASSES[(i + 3) % 12]} major"
            )
            relative += r["key"] == rel
    n = len(rows)
    return {
        "tempo_within_2pct": round(tempo_ok / n, 3),
        "tempo_octave_errors": round(octave / n, 3),
        "key_exact": round(key_ok / n, 3),
        "key_relative_confusions": round(relative / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=96)  # the workers' start weighs little
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--real", type=Path, default=WESNOTH)
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args()

    folder, truth = synth_library(args.tracks)
    timing, rows = measure(folder, args.workers)
    result = {
        "extractor_version": EXTRACTOR_VERSION,
        "machine": {
            "cpus_usable": default_workers(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "generated": {
            **timing,
            "track_seconds": SECONDS,
            "formats": sorted({Path(n).suffix for n in truth}),
            "accuracy": accuracy([r for r in rows if r.get("error") is None], truth),
            "in_process": steady_cpu(folder, 12),
            "spread": spread(rows),
        },
    }
    print(json.dumps(result["generated"], indent=1), file=sys.stderr)
    if not args.no_real and args.real.is_dir():
        timing, rows = measure(args.real, args.workers)
        result["real"] = {
            "source": str(args.real),
            **timing,
            "in_process": steady_cpu(args.real, 12),
            "spread": spread(rows),
            "errors": [(r["name"], r["error"]) for r in rows if r.get("error")],
        }
        print(json.dumps(result["real"], indent=1), file=sys.stderr)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
