"""Training speed: `python -m training` on the 42.7k-play Last.fm history, export included.

    .venv/bin/python benchmarks/train.py

Target: <= 20 s including export on this machine's 2 cores (issue 15); model files <= 5 MB
(item vectors are never stored: the engine computes them). The store is built once from
../shared/data with the importer (cached under benchmarks/.cache/). Records where the time
went (from the progress events: start-up, examples, epochs, export), the trainer's CPU
seconds (the machine is shared: CPU time moves less with the load than wall time), its
peak memory (resident, sampled every 0.1 s with psutil: its processes together and the
largest) and the load average. Writes benchmarks/results/train.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from player_plugin.app.evaluate import build_store, read_listeners  # noqa: E402
from player_plugin.app.retrain import run_trainer, trainer_command  # noqa: E402
from player_plugin.domain.training_events import Data, Epoch, Stage, Start  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "lastfm-2007-2019" / "scrobbles.csv"
CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
TARGET_SECONDS = 20  # issue 15: training and export on this history, 2 cores


def store() -> Path:
    path = CACHE / "train_lastfm.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        history = read_listeners([DATA], "lastfm-csv")
        plays = next(iter(history.listeners.values()))
        build_store(path, plays, fmt="lastfm-csv", files=[DATA]).close()
    return path


class TreePeak:
    """The peak resident memory of this process's children (the trainer and its helper
    process), together and the largest one, sampled on a thread until stopped."""

    def __init__(self, every_s: float = 0.1) -> None:
        self.every_s, self.together, self.largest = every_s, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.every_s):
            sizes = []
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # ended meanwhile
                    sizes.append(child.memory_info().rss)
            if sizes:
                self.together = max(self.together, sum(sizes))
                self.largest = max(self.largest, max(sizes))

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    if not DATA.exists():
        print(f"{DATA} is not available", file=sys.stderr)
        return 1
    db = store()
    events: list = []
    stamps: list[float] = []

    def on_event(event) -> None:
        events.append(event)
        stamps.append(time.perf_counter())

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with TreePeak() as peak:
            done = run_trainer(trainer_command(db, out), on_event=on_event)
        seconds = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        files = {p.name: p.stat().st_size for p in out.iterdir()}
        manifest = json.loads((out / "manifest.json").read_text())
    epochs = [e for e in events if isinstance(e, Epoch)]
    at = {type(e).__name__: t - started for e, t in zip(events, stamps, strict=True)}
    data = next(e for e in events if isinstance(e, Data))
    phases = {
        "start_up": round(at[Start.__name__], 2),  # interpreter, imports, reading the store
        "examples": data.seconds,
        "epochs": round(at[Stage.__name__] - at[Data.__name__], 2),
        "export": round(seconds - at[Stage.__name__], 2),
    }
    result = {
        "benchmark": "train",
        "history": "lastfm-2007-2019 (all plays)",
        "plays": manifest["data_size"],
        "targets": manifest["targets"],
        "tracks": manifest["tracks"],
        "seconds_total": round(seconds, 2),
        "seconds_in_trainer": done.seconds,
        "epochs_run": len(epochs),
        "best_epoch": done.metrics.get("epoch"),
        "seconds_by_phase": phases,
        "cpu_seconds": round(
            cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 2
        ),  # the trainer and its helper process
        "target_seconds": TARGET_SECONDS,
        "peak_mb_together": round(peak.together / 2**20, 1),  # the trainer's processes
        "peak_mb_largest": round(peak.largest / 2**20, 1),
        "schedule": manifest["config"].get("schedule"),
        "model_bytes": sum(files.values()),
        "files": files,
        "target_bytes": 5 * 1024 * 1024,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
