"""*Retrain now* (the GUI path, offscreen) against `segue train` on the same database.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/retrain.py DB [--runs 3]

Each run trains on a fresh copy of DB (no models yet), alternating the two paths so that
both see the same machine load: `segue train --json` as a command, and the player window's
plugin ``retrain()`` (both call :func:`player_plugin.app.retrain.retrain`), timed from the
call to the ``training_finished`` signal. Prints and writes
benchmarks/results/retrain.json: each run's seconds, the medians, their ratio, the load
average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"

CLI = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"


def fresh_copy(db: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    target = into / "segue.db"
    shutil.copy(db, target)
    return target


def time_cli(db: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI, "--db", str(db), "train", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1:])
    print("cli:", json.loads(done.stdout)["reason"], file=sys.stderr)
    return seconds


def time_gui(db: Path) -> float:
    # Qt only for this path (the benchmark's CLI path must not pay for it)
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from player_plugin.ui.player_window import PlayerWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(db.parent / "window.ini"), QSettings.Format.IniFormat)
    window = PlayerWindow(str(db), settings=settings)
    window.show()
    app.processEvents()
    loop = QEventLoop()
    out: list = []
    window.plugin.training_finished.connect(lambda *args: (out.append(args), loop.quit()))
    started = time.perf_counter()
    assert window.plugin.retrain()
    QTimer.singleShot(900_000, loop.quit)
    loop.exec()
    seconds = time.perf_counter() - started
    window.close()
    app.processEvents()
    if not out or out[0][1]:
        raise RuntimeError(f"GUI training failed: {out}")
    print("gui:", getattr(out[0][0], "reason", out[0][0]), file=sys.stderr)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {"cli": [], "gui": []}
    with tempfile.TemporaryDirectory(prefix="segue-retrain-bench-") as tmp:
        for k in range(args.runs):
            for path, timer in (("cli", time_cli), ("gui", time_gui)):
                db = fresh_copy(args.db, Path(tmp) / f"{path}-{k}")
                runs[path].append(round(timer(db), 2))
                print(f"{path} run {k + 1}: {runs[path][-1]} s", file=sys.stderr, flush=True)
    cli, gui = statistics.median(runs["cli"]), statistics.median(runs["gui"])
    result = {
        "benchmark": "retrain",
        "database": str(args.db),
        "runs": runs,
        "median_cli_s": cli,
        "median_gui_s": gui,
        "gui_over_cli": round(gui / cli, 3),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "retrain.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
