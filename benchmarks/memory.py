"""Resident memory: the reference player with the plugin, a 100,000-track library, a model
loaded and 1,000 suggestions served (goal <= 300 MB), beside simpler peers.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/memory.py [--suggestions 1000]

Every figure is one process's, measured with psutil in a child of this script (the same
process tree, one after the other):

- **player**: ``open_player`` on a copy of benchmarks/recommend.py's 100,000-track library
  (the model registered and active), the window shown offscreen, the library table
  loaded; then the plugin's own refresh (a worker thread, as on a track change) asked
  *n* times, a play logged before each, each answer waited for. Resident memory (RSS)
  after opening, after the first suggestion and at the end; the peak is sampled every
  20 ms by a timer, and ``ru_maxrss`` (the kernel's peak) is reported too; the end's
  resident memory is also split into anonymous memory (the process's own heap) and
  file-backed pages (the shared libraries' code as mapped: how much of a library counts
  depends on the kernel's page cache, e.g. numpy + onnxruntime 25 MB after a cache drop
  and 41 MB right after a fresh ``pip install``, the same files).
- **peer: bare window**: a QApplication and an empty QMainWindow shown offscreen (what any
  Qt player costs before it holds a library).
- **peer: model process**: onnxruntime with the same scorer, the library's item vectors,
  *n* answers (session tower + one dot product + top 10): what serving a model costs.
- **segue recommend**: the whole process's peak (``ru_maxrss``), once without and once
  with the warm-start file.
- **segue listen**: ``segue listen --host mpd --radio 3`` on the same library beside a
  real mpd (null output, a private config and port; its music folder holds a one-minute
  tone under the name of every track with plays, so the radio's suggestions are queued
  for real): the listener skips a track every 2 s for ``--listen-s`` seconds, then the
  process is stopped (SIGTERM) and its whole-process peak (``ru_maxrss``) read, twice:
  once without the warm-start files and once with them.
- **imports**: the resident memory after each of the player's heavy imports in turn (a
  fresh process), so what each costs is on record.

Writes benchmarks/results/memory.json (with the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from player_plugin.recommend.engine import Engine  # noqa: E402
from player_plugin.recommend.features import N_ITEM_FEATURES  # noqa: E402
from player_plugin.recommend.model import ModelRecommender  # noqa: E402
from player_plugin.store import open_db  # noqa: E402
from player_plugin.store.catalogue import load_catalogue, load_plays  # noqa: E402
from player_plugin.store.models import activate, add_model  # noqa: E402

LIBRARY = ROOT / "benchmarks" / ".cache" / "recommend"
RESULTS = ROOT / "benchmarks" / "results"

PLAYER = r"""
import json, os, resource, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
sys.path.insert(0, {root!r})
import psutil
from PySide6.QtCore import QEventLoop, QTimer
from player_plugin.cli.gui import _app, open_player
from player_plugin.store import open_db
from player_plugin.store.plays import log_play
proc = psutil.Process()
mb = lambda: proc.memory_info().rss / 2**20
out = {{"imports_mb": mb()}}
app = _app()
peak = [0.0]
sampler = QTimer(); sampler.setInterval(20)
sampler.timeout.connect(lambda: peak.__setitem__(0, max(peak[0], mb())))
sampler.start()
t = time.perf_counter()
window = open_player({db!r}, settings_scope="segue-memory-bench")
window.show()
plugin = window.plugin
loop = QEventLoop()
got = []
errors = []
plugin.suggestions_changed.connect(lambda items: (got.append(len(items)), loop.quit()))
plugin.status.connect(lambda line: (errors.append(line), loop.quit()))
guard = QTimer(); guard.setSingleShot(True); guard.timeout.connect(loop.quit)
def wait():
    guard.start(120_000)
    loop.exec()
    guard.stop()
def settle(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        app.processEvents(); time.sleep(0.005)
settle(500)
del got[:]
plugin.refresh(); wait()
out["open_s"] = round(time.perf_counter() - t, 2)
out["after_open_and_first_suggestion_mb"] = mb()
db = open_db({db!r})
ids = [r[0] for r in db.execute("SELECT track_id FROM plays ORDER BY id DESC LIMIT 500")]
now = db.execute("SELECT max(started_at) FROM plays").fetchone()[0] + 60_000
for k in range({n} - 1):
    log_play(db, ids[k % len(ids)], started_at=now, ms_played=200_000, reason="completed")
    now += 201_000
    plugin.refresh(); wait()
    if k == 99:
        out["after_100_mb"] = mb()
out["served"] = len(got)
out["nonempty"] = sum(1 for g in got if g)
out["method"] = plugin.method
out["status_lines"] = errors[:3]
out["end_mb"] = mb()
out["peak_sampled_mb"] = max(peak[0], mb())
status = dict(l.split(":", 1) for l in open("/proc/self/status") if l.startswith("Rss"))
out["end_anon_mb"] = int(status["RssAnon"].split()[0]) / 1024
out["end_file_mb"] = int(status["RssFile"].split()[0]) / 1024
db.close()
plugin.shutdown() if hasattr(plugin, "shutdown") else None
print(json.dumps(out))
os._exit(0)
"""

BARE = r"""
import json, os, resource, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import psutil
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow(); w.resize(1200, 800); w.show()
end = time.perf_counter() + 0.5
while time.perf_counter() < end:
    app.processEvents(); time.sleep(0.005)
print(json.dumps({"end_mb": psutil.Process().memory_info().rss / 2**20}))
os._exit(0)
"""

PEER = r"""
import json, os, resource
import numpy as np, onnxruntime as ort, psutil
from threadpoolctl import threadpool_limits
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1; opts.inter_op_num_threads = 1
sess = ort.InferenceSession({scorer!r}, sess_options=opts, providers=["CPUExecutionProvider"])
vectors = np.load({vectors!r})
data = np.load({inputs!r}); feeds = {{k: data[k] for k in data.files}}
for _ in range({n}):
    _, query = sess.run(None, feeds)
    with threadpool_limits(limits=1, user_api="blas"):
        scores = vectors @ query[0]
    top = np.argpartition(-scores, 10)[:10]
print(json.dumps({{"end_mb": psutil.Process().memory_info().rss / 2**20}}))
"""

WRAP = r"""
import json, resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True)
found = json.loads(out.stdout.strip().splitlines()[-1])
found["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(found))
"""

PEAK = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


IMPORTS = (
    "numpy",
    "sqlite_utils",
    "onnxruntime",
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "PySide6.QtMultimedia",
    "player_plugin.store",
    "player_plugin.recommend.engine",
    "player_plugin.app.suggest",
    "player_plugin.ui.player_window",
    "player_plugin.cli.gui",
)

IMPORT_STEPS = r"""
import importlib, json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import psutil
proc = psutil.Process()
mb = lambda: proc.memory_info().rss / 2**20
out = {{"python": round(mb(), 1)}}
for name in {names!r}:
    before = mb()
    importlib.import_module(name)
    out[name] = round(mb() - before, 1)
out["total"] = round(mb(), 1)
print(json.dumps(out))
"""

LISTEN = r"""
import json, resource, signal, subprocess, sys, time
import mpd
port, seconds = int(sys.argv[1]), float(sys.argv[2])
proc = subprocess.Popen(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
try:
    c = mpd.MPDClient(); c.connect("127.0.0.1", port)
    end, skips = time.monotonic() + seconds, 0
    time.sleep(3)
    while time.monotonic() < end and proc.poll() is None:
        time.sleep(2)
        try:
            c.next(); skips += 1
        except mpd.CommandError:  # nothing queued after this song (yet)
            pass
    queued = len(c.playlistinfo())
finally:
    proc.send_signal(signal.SIGTERM)  # never left running
err = proc.communicate(timeout=60)[1].decode(errors="replace")
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "skips": skips, "mpd_queue": queued, "rc": proc.returncode,
                  "stderr": err[-500:]}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tone(path: Path, seconds: int = 60) -> None:
    """A quiet mono 8 kHz FLAC tone (mpd plays it with the null output in real time)."""
    import soundfile  # only this measurement writes audio

    t = np.arange(seconds * 8000) / 8000
    soundfile.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)


def listen_peaks(db_path: Path, env: dict, seconds: float) -> dict:
    """``segue listen --host mpd --radio 3``'s whole-process peak (MB) beside a real mpd,
    without and then with the warm-start files; None where mpd is not installed."""
    mpd_bin = shutil.which("mpd")
    if mpd_bin is None:
        return {"note": "mpd is not installed"}
    root = db_path.parent / "mpd"
    music = root / "music"
    music.mkdir(parents=True)
    tone(root / "tone.flac")
    db = open_db(db_path)
    played = [r[0] for r in db.execute(
        "SELECT DISTINCT t.path FROM plays p JOIN tracks t ON t.id = p.track_id ORDER BY 1"
    )]  # fmt: skip
    db.close()
    prefix = os.path.commonpath([os.fsdecode(p) for p in played])
    for path in played:  # the library's synthetic paths, under mpd's music folder
        os.link(root / "tone.flac", music / os.path.relpath(os.fsdecode(path), prefix))
    port = free_port()
    config = root / "mpd.conf"
    config.write_text(
        f'music_directory "{music}"\ndb_file "{root}/mpd.db"\nstate_file "{root}/mpd.state"\n'
        f'pid_file "{root}/mpd.pid"\nlog_file "{root}/mpd.log"\nbind_to_address "127.0.0.1"\n'
        f'port "{port}"\naudio_output {{\n  type "null"\n  name "null"\n  mixer_type "none"\n}}\n'
    )
    subprocess.run([mpd_bin, str(config)], check=True, timeout=30, capture_output=True)
    out: dict = {"tracks_known_to_mpd": len(played)}
    try:
        mpc = ["mpc", "-q", "-h", "127.0.0.1", "-p", str(port)]
        subprocess.run([*mpc, "update", "--wait"], check=True, timeout=600)
        cli = "import sys; from player_plugin.cli import main; sys.exit(main())"
        host = f"mpd:127.0.0.1:{port}"
        command = [sys.executable, "-c", cli, "--db", str(db_path), "listen",
                   "--host", host, "--music-dir", prefix, "--radio", "3"]  # fmt: skip
        for run in ("cold", "warm"):
            if run == "cold":
                shutil.rmtree(db_path.parent / "cache", ignore_errors=True)
            subprocess.run([*mpc, "clear"], check=True, timeout=30)
            first = os.path.relpath(os.fsdecode(played[0]), prefix)
            subprocess.run([*mpc, "add", first], check=True, timeout=30)
            subprocess.run([*mpc, "play"], check=True, timeout=30, capture_output=True)
            done = subprocess.run(
                [sys.executable, "-c", LISTEN, str(port), str(seconds), *command],
                capture_output=True, text=True, env=env, timeout=seconds + 300,
            )  # fmt: skip
            if done.returncode:
                raise SystemExit(f"segue listen's run failed: {done.stderr[-2000:]}")
            found = json.loads(done.stdout.strip().splitlines()[-1])
            out[run] = {k: round(v, 1) if isinstance(v, float) else v for k, v in found.items()}
    finally:
        pid = (root / "mpd.pid").read_text().strip() if (root / "mpd.pid").exists() else None
        if pid:
            os.kill(int(pid), signal.SIGTERM)
            time.sleep(0.5)
    return out


def child(code: str, env: dict | None = None) -> dict:
    """Run *code* in a child of a small launcher (so its ``ru_maxrss`` is its own, not
    inherited from this process); its last output line is JSON."""
    out = subprocess.run(
        [sys.executable, "-c", WRAP, sys.executable, "-c", code],
        capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"child failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_of(command: list[str], env: dict) -> float:
    """The peak resident memory (MB) of *command* as one child process."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK, *command], capture_output=True, text=True, env=env,
        check=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def prepare(folder: Path) -> tuple[Path, Path]:
    """A copy of the benchmark library with its model registered and active."""
    if not (LIBRARY / "library.db").exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "recommend.py"), "--runs", "1",
                        "--calls", "10", "--starts", "1"], check=True)  # fmt: skip
    src = open_db(LIBRARY / "library.db")
    db_path = folder / "segue.db"
    copy = open_db(db_path, migrate=False)
    src.conn.backup(copy.conn)
    copy.close()
    src.close()
    db = open_db(db_path)
    model = folder / "models" / "bench"  # models live in the database's models folder
    shutil.copytree(LIBRARY / "model", model)
    add_model(db, "bench", folder="bench", cutoff=None, data_size=None, metrics={"holdout": {}})
    activate(db, "bench")
    db.close()
    return db_path, model


def peer_inputs(db_path: Path, model: Path, folder: Path) -> tuple[Path, Path]:
    db = open_db(db_path)
    catalogue = load_catalogue(db)
    rec = ModelRecommender(Engine(model, threads=1))
    rec.fit(load_plays(db, catalogue), catalogue)
    db.close()
    vectors, inputs = folder / "vectors.npy", folder / "inputs.npz"
    np.save(vectors, rec.vectors)
    feeds = rec._session()
    feeds["cand_vec"] = np.zeros((1, 1, rec.vectors.shape[1]), dtype=np.float32)
    feeds["cand_feat"] = np.zeros((1, 1, N_ITEM_FEATURES), np.float32)
    np.savez(inputs, **feeds)
    return vectors, inputs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suggestions", type=int, default=1000)
    parser.add_argument("--listen-s", type=float, default=30.0, help="how long listen runs")
    args = parser.parse_args()
    load_before = os.getloadavg()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    work = Path(tempfile.mkdtemp(prefix="segue-memory-"))
    try:
        db_path, model = prepare(work)
        vectors, inputs = peer_inputs(db_path, model, work)
        bare = child(BARE, env)
        peer = child(
            PEER.format(scorer=str(model / "scorer.onnx"), vectors=str(vectors),
                        inputs=str(inputs), n=args.suggestions),
            env,
        )  # fmt: skip
        shutil.rmtree(work / "cache", ignore_errors=True)
        cli = "import sys; from player_plugin.cli import main; sys.exit(main())"
        recommend = [sys.executable, "-c", cli, "--db", str(db_path), "recommend"]
        rec_cold = peak_of(recommend, env)  # writes the warm-start file
        rec_warm = peak_of(recommend, env)
        player = child(PLAYER.format(root=str(ROOT), db=str(db_path), n=args.suggestions), env)
        listen = listen_peaks(db_path, env, args.listen_s)
        imports = child(IMPORT_STEPS.format(names=IMPORTS), env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "benchmark": "memory",
        "tracks": 100_000,
        "suggestions": args.suggestions,
        "player": {k: round(v, 1) if isinstance(v, float) else v for k, v in player.items()},
        "peer_bare_qt_window": {k: round(v, 1) for k, v in bare.items()},
        "peer_model_process": {k: round(v, 1) for k, v in peer.items()},
        "segue_recommend_peak_mb": {"cold": round(rec_cold, 1), "warm": round(rec_warm, 1)},
        "segue_listen": listen,
        "imports_mb": imports,
        "goal_player_mb": 300,
        "player_over_peers": round(
            player["peak_sampled_mb"] / (bare["end_mb"] + peer["end_mb"]), 2
        ),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "self_ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
