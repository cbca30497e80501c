"""Suggestion latency and the first suggestion after a start, side by side with a peer.

    .venv/bin/python benchmarks/recommend.py [--tracks 100000] [--plays 20000]
        [--calls 300] [--runs 5] [--starts 3] [--played-per-album N]

**Engine** (one intra-op thread), per call: read the plays logged since the last call from
SQLite, observe them, score the whole library (history features in numpy for the tracks
with any history, the rest sharing precomputed rows; session tower + scorer in
onnxruntime; cached item vectors), re-rank to the top 10.
**With first plays**: the same engine calls on a copy of the store with its own
recommender, where one play in five (``--first-plays``) is of a track never played — half
of them by an artist the listener plays, half by anyone — as these listeners' histories
have one in seven (Last.fm) to one in four (Spotify); a first play changes which tracks
have history. Kept apart, so the engine's figures above stay those of earlier runs; the
calls right after a first play are also reported on their own.
**GUI path**: ``app.suggest.suggestions`` (the serving cache, as the dock calls it) on a
copy of the store with the model registered, one play ended (every third skipped) and the
next started between calls (the GUI's track change).
**Peer**: the simplest model-based "play next" there is, in the same process and the same
run: the same session tower in onnxruntime (batch of one, one candidate) for the session's
query vector, one dot product over every item vector, the top 10 (no history features, no
re-ranking, no SQLite read). Each run times a block of engine calls, of GUI calls and of
peer calls in turn; the figures are medians over the runs of each run's p50/p99, and the
ratio is ours / the peer's per run, median over the runs. The calling thread's CPU time
per call is kept too (``*_cpu_p50_ms``, over all runs): on a shared machine the wall
time of a call of a few milliseconds is mostly how often it lost its core.
**Start**: in a fresh process (imports done, untimed), open the store and ask for the
first suggestion: with no warm-start files (cold) and with the ones the cold start wrote
(warm: the item vectors and the serving state, only the plays since observed); the
peer's start is loading its ONNX session and its saved item vectors and answering once.
Wall time and the process's CPU time (less sensitive to a busy machine) are both kept,
and each process's resident memory once it answered (the cold one's peak too).

The library, history and model are built once under benchmarks/.cache/ (a library larger
than the default reuses the default's model: unknown tracks get vectors from their tags).
By default the listener plays most of each album they play; ``--played-per-album 3``
builds a history over the same library where they play only its first three tracks
(whole albums in the library, a few tracks of each played: the other seven are tracks
with no history by an artist with some). Writes
benchmarks/results/recommend[-<tracks>][-played<N>].json with the load average before and
after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from player_plugin.app import warm  # noqa: E402
from player_plugin.app.retrain import run_trainer, trainer_command  # noqa: E402
from player_plugin.app.suggest import CACHE as SERVING  # noqa: E402
from player_plugin.app.suggest import suggestions  # noqa: E402
from player_plugin.recommend.engine import Engine  # noqa: E402
from player_plugin.recommend.features import N_ITEM_FEATURES  # noqa: E402
from player_plugin.recommend.model import ModelRecommender, catalogue_dot  # noqa: E402
from player_plugin.recommend.rerank import Reranker  # noqa: E402
from player_plugin.store import open_db  # noqa: E402
from player_plugin.store.catalogue import (  # noqa: E402
    HistoryTrack,
    insert_history_tracks,
    load_catalogue,
    load_plays,
)
from player_plugin.store.models import activate, add_model  # noqa: E402
from player_plugin.store.plays import _INSERT, end_play, log_play, resession, start_play  # noqa: E402
from player_plugin.store.serving import serving_plays  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_TRACKS, PER_ARTIST, DEFAULT_PLAYS = 100_000, 10, 20_000
T0 = 1_600_000_000_000


def trained_with_defaults(model: Path) -> bool:
    """Whether the cached *model* was trained with the trainer's settings of today (two
    epochs aside) and exported in today's layout: a changed default retrains it. Those are
    read in a subprocess, so that torch is never loaded here (this process's memory is
    measured)."""
    try:
        manifest = json.loads((model / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    code = (
        "import json; from training.model import Config; from training.export import "
        "SCORER_LAYOUT; print(json.dumps([Config().to_json(), SCORER_LAYOUT]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    config, layout = json.loads(out.stdout)
    return manifest.get("config") == {**config, "epochs": 2} and (
        manifest.get("scorer_layout") == layout
    )


def folder_for(tracks: int, plays: int, per_album: int = PER_ARTIST) -> Path:
    played = "" if per_album == PER_ARTIST else f"-played{per_album}"
    if (tracks, plays) == (DEFAULT_TRACKS, DEFAULT_PLAYS):
        return CACHE / f"recommend{played}"
    return CACHE / f"recommend-{tracks}-{plays}{played}"


def build(db_path: Path, tracks: int, n_plays: int, per_album: int = PER_ARTIST) -> None:
    """*tracks* tracks (10 per artist, one album each); *n_plays* plays over 600 (at
    100,000 tracks; more in proportion) favourite artists, 15% skipped, sessions — of the
    first *per_album* tracks of each album only."""
    rng = np.random.default_rng(0)
    db = open_db(db_path)
    insert_history_tracks(
        db,
        (
            HistoryTrack(
                f"/lib/{i:07d}.flac".encode(),
                f"a{i // PER_ARTIST}\x1ft{i}",
                f"Artist {i // PER_ARTIST}",
                f"Track {i}",
                f"Album {i // PER_ARTIST}",
                200_000,
            )
            for i in range(tracks)
        ),
    )
    ids = [r[0] for r in db.execute("SELECT id FROM tracks ORDER BY id")]
    n_fav = max(600, 600 * n_plays // DEFAULT_PLAYS)
    n_fav = min(n_fav, tracks // PER_ARTIST)
    favourites = rng.choice(tracks // PER_ARTIST, n_fav, replace=False)
    rows, t = [], T0
    while len(rows) < n_plays:
        artist = int(favourites[min(int(rng.zipf(1.3)) - 1, n_fav - 1)])
        for k in range(int(rng.integers(0, 5)), PER_ARTIST):
            if k >= per_album:
                break
            skipped = rng.random() < 0.15
            ms = 20_000 if skipped else 200_000
            tid = ids[artist * PER_ARTIST + k]
            reason = "skipped" if skipped else "completed"
            rows.append([tid, t, t + ms, ms, 200_000, reason, "user", "", "", "", None, ""])
            t += ms + 1000
        if rng.random() < 0.3:
            t += 3_600_000
    with db.atomic():
        db.conn.executemany(_INSERT, rows[:n_plays])
        resession(db, T0)
    db.close()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def peer_call(rec: ModelRecommender, zeros: dict) -> np.ndarray:
    """The peer: session tower for the query, one dot product, the top 10."""
    inputs = rec._session()
    inputs.update(zeros)
    _scores, query = rec.engine.score_parts(inputs)
    scores = catalogue_dot(rec.vectors, query[0])  # the same dot product as ours
    top = np.argpartition(-scores, 10)[:10]
    return top[np.argsort(-scores[top])]


def engine_call(state: dict, item: int) -> tuple[float, float]:
    """The listener plays *item* (untimed), then one engine call: (wall, CPU seconds)."""
    db, rec, reranker, cat = state["db"], state["rec"], state["reranker"], state["catalogue"]
    log_play(
        db, int(cat.track_ids[item]), started_at=state["now"], ms_played=200_000,
        reason="completed",
    )  # fmt: skip
    state["now"] += 201_000
    start, cpu = time.perf_counter(), time.thread_time()
    new = serving_plays(db, cat, now_ms=state["now"], after_id=state["last_id"])
    state["last_id"] = new.last_id
    for play in new.plays:
        rec.observe(play)
        reranker.observe(play)
    top = reranker.rerank(rec.scores(), 10)
    took = time.perf_counter() - start, time.thread_time() - cpu
    assert len(top) == 10
    return took


def engine_block(state: dict, calls: int) -> list[float]:
    rng, seen, times = state["rng"], state["seen"], []
    for _ in range(calls):
        wall, cpu = engine_call(state, int(seen[rng.integers(len(seen))]))
        times.append(wall)
        state["cpu"]["engine"].append(cpu)
    return times


def pick_first(rec: ModelRecommender, rng: np.random.Generator) -> int:
    """A never-played track: half the time by an artist the listener plays."""
    state = rec.state
    assert state is not None
    unplayed = ~state.seen & (state.artist > 0)
    if rng.random() < 0.5:
        unplayed &= state.a_count[state.artist] > 0
    candidates = np.flatnonzero(unplayed)
    return int(candidates[rng.integers(len(candidates))])


def mixed_block(state: dict, calls: int, share: float) -> tuple[list[float], list[float]]:
    """Engine calls where a *share* of the plays are first plays: (every call's time, the
    times of the calls right after a first play)."""
    rec, rng, times, after_first = state["rec"], state["rng"], [], []
    for _ in range(calls):
        first = rng.random() < share
        seen = np.flatnonzero(rec.state.seen)
        item = pick_first(rec, rng) if first else int(seen[rng.integers(len(seen))])
        times.append(engine_call(state, item)[0])
        if first:
            after_first.append(times[-1])
    return times, after_first


def peer_block(state: dict, calls: int) -> list[float]:
    rec, times = state["rec"], []
    dim = rec.vectors.shape[1]
    zeros = {
        "cand_vec": np.zeros((1, 1, dim), dtype=np.float32),
        "cand_feat": np.zeros((1, 1, N_ITEM_FEATURES), np.float32),
    }
    for _ in range(calls):
        start, cpu = time.perf_counter(), time.thread_time()
        top = peer_call(rec, zeros)
        times.append(time.perf_counter() - start)
        state["cpu"]["peer"].append(time.thread_time() - cpu)
        assert len(top) == 10
    return times


def gui_block(g: dict, calls: int) -> list[float]:
    sdb, cat, rng, seen, times = g["db"], g["catalogue"], g["rng"], g["seen"], []
    for k in range(calls):
        if g["playing"] is not None:  # every third track skipped after 20 s, the rest heard
            ms, reason = (20_000, "skipped") if k % 3 == 0 else (200_000, "completed")
            end_play(sdb, g["playing"], ms_played=ms, reason=reason, at_ms=g["now"] + ms)
            g["now"] += ms + 1_000
        item = int(seen[rng.integers(len(seen))])
        g["playing"] = start_play(sdb, int(cat.track_ids[item]), at_ms=g["now"])
        start, cpu = time.perf_counter(), time.thread_time()
        found = suggestions(sdb, 10, now_ms=g["now"] + 1_000)
        times.append(time.perf_counter() - start)
        g["cpu"]["gui"].append(time.thread_time() - cpu)
        assert len(found.items) == 10
    return times


def service_copy(db, model: Path, folder: Path):
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copy = open_db(folder / "segue.db", migrate=False)
    db.conn.backup(copy.conn)
    copy.close()
    sdb = open_db(folder / "segue.db")
    shutil.copytree(model, folder / "models" / "bench")  # models live in the models folder
    add_model(
        sdb,
        "bench",
        folder="bench",
        cutoff=None,
        data_size=None,
        metrics={"holdout": {}},  # only an evaluated model can be activated
    )
    activate(sdb, "bench")
    return sdb


START_OURS = """
import sys, time, json
sys.path.insert(0, {root!r})
from player_plugin.app.suggest import suggestions
from player_plugin.store import open_db
import psutil
from player_plugin.app.suggest import CACHE
t, cpu = time.perf_counter(), time.process_time()
db = open_db({db!r})
found = suggestions(db, 10, now_ms={now})
took, cpu = time.perf_counter() - t, time.process_time() - cpu
assert found.method == "model" and len(found.items) == 10
from player_plugin.app import warm
warm.wait_saved()
def peak_mb():  # this program's (getrusage's keeps the parent's across exec)
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 2**10
print(json.dumps({{"s": took, "cpu_s": cpu, "ids": [s.track_id for s in found.items],
                  "from_file": CACHE.entry(db).warm,
                  "rss_mb": psutil.Process().memory_info().rss / 2**20,
                  "peak_mb": peak_mb()}}))
"""

START_PEER = """
import sys, time, json
import numpy as np, onnxruntime as ort
from threadpoolctl import threadpool_limits
t = time.perf_counter()
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1; opts.inter_op_num_threads = 1
sess = ort.InferenceSession({scorer!r}, sess_options=opts, providers=["CPUExecutionProvider"])
vectors = np.load({vectors!r})
feeds = {{k: np.load({inputs!r})[k] for k in np.load({inputs!r}).files}}
_, query = sess.run(None, feeds)
with threadpool_limits(limits=1, user_api="blas"):
    scores = vectors @ query[0]
top = np.argpartition(-scores, 10)[:10]
print(json.dumps({{"s": time.perf_counter() - t}}))
"""


def start_figures(db_path: Path, model: Path, rec: ModelRecommender, folder: Path, starts: int):
    """First suggestion in fresh processes: cold (no warm-start file), warm, and the peer."""
    db = open_db(db_path)
    sdb = service_copy(db, model, folder)
    db.close()
    plays = load_plays(sdb, load_catalogue(sdb, audio=False))
    now = plays[-1].started_at + 60_000
    sdb.close()
    cache_dir = folder / "cache"
    ours = START_OURS.format(root=str(ROOT), db=str(folder / "segue.db"), now=now)
    np.save(folder / "peer_vectors.npy", rec.vectors)
    inputs = rec._session()
    inputs["cand_vec"] = np.zeros((1, 1, rec.vectors.shape[1]), dtype=np.float32)
    inputs["cand_feat"] = np.zeros((1, 1, N_ITEM_FEATURES), np.float32)
    np.savez(folder / "peer_inputs.npz", **inputs)
    peer = START_PEER.format(
        scorer=str(model / "scorer.onnx"),
        vectors=str(folder / "peer_vectors.npy"),
        inputs=str(folder / "peer_inputs.npz"),
    )

    def run(code: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold, warm_s, peer_s, rss, ids = [], [], [], [], set()
    cold_rss, cold_peak = [], []
    cold_cpu, warm_cpu, from_file = [], [], []
    for _ in range(starts):
        shutil.rmtree(cache_dir, ignore_errors=True)
        got = run(ours)
        cold.append(got["s"])
        cold_cpu.append(got["cpu_s"])
        cold_rss.append(got["rss_mb"])
        cold_peak.append(got["peak_mb"])
        ids.add(tuple(got["ids"]))
        got = run(ours)  # the files written by the cold start
        warm_s.append(got["s"])
        warm_cpu.append(got["cpu_s"])
        from_file.append(got["from_file"])
        rss.append(got["rss_mb"])
        ids.add(tuple(got["ids"]))
        peer_s.append(run(peer)["s"])
    assert len(ids) == 1, "a warm start answered differently from a cold one"
    assert all(from_file), "a warm start did not read the saved serving state"
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "start_cold_s": round(statistics.median(cold), 3),
        "start_warm_s": round(statistics.median(warm_s), 3),
        "start_peer_s": round(statistics.median(peer_s), 3),
        "start_warm_ratio": round(statistics.median(warm_s) / statistics.median(peer_s), 2),
        "start_cold_cpu_s": round(statistics.median(cold_cpu), 3),
        "start_warm_cpu_s": round(statistics.median(warm_cpu), 3),
        "start_runs": starts,
        "start_warm_equals_cold": True,
        "start_process_rss_mb": round(statistics.median(rss), 1),
        "start_cold_process_rss_mb": round(statistics.median(cold_rss), 1),
        "start_cold_process_peak_mb": round(statistics.median(cold_peak), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=DEFAULT_TRACKS)
    parser.add_argument("--plays", type=int, default=DEFAULT_PLAYS)
    parser.add_argument("--calls", type=int, default=300, help="calls per run and path")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--results", type=Path, help="write the JSON here instead")
    parser.add_argument(
        "--played-per-album", type=int, default=PER_ARTIST, metavar="N",
        help="the listener plays only the first N tracks of each album (of 10)",
    )  # fmt: skip
    parser.add_argument(
        "--first-plays", type=float, default=0.2, metavar="SHARE",
        help="the share of first plays in the calls with first plays",
    )  # fmt: skip
    args = parser.parse_args()
    load_before = os.getloadavg()
    default = folder_for(DEFAULT_TRACKS, DEFAULT_PLAYS)
    folder = folder_for(args.tracks, args.plays, args.played_per_album)
    folder.mkdir(parents=True, exist_ok=True)
    db_path, model = folder / "library.db", default / "model"
    if not db_path.exists():
        build(db_path, args.tracks, args.plays, args.played_per_album)
    if not trained_with_defaults(model):
        shutil.rmtree(model, ignore_errors=True)
        if not (default / "library.db").exists():
            build(default / "library.db", DEFAULT_TRACKS, DEFAULT_PLAYS)
        run_trainer(trainer_command(default / "library.db", model, extra=["--epochs", "2"]))
    db = open_db(db_path)
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    catalogue = load_catalogue(db)
    plays = load_plays(db, catalogue)
    rec = ModelRecommender(Engine(model, threads=1))
    rec.fit(plays, catalogue)
    reranker = Reranker(catalogue).fit(plays)
    fit_seconds = time.perf_counter() - t0
    state_mb = (proc.memory_info().rss - rss0) / 2**20
    base_now = plays[-1].started_at + 60_000
    state = {
        "db": db, "rec": rec, "reranker": reranker, "catalogue": catalogue,
        "rng": np.random.default_rng(1), "seen": np.unique([p.item for p in plays]),
        "now": base_now, "last_id": int(db.execute("SELECT max(id) FROM plays").fetchone()[0]),
        "cpu": {"engine": [], "gui": [], "peer": []},
    }  # fmt: skip
    mixed_db = service_copy(db, model, folder / "mixed")  # (its model entry unused)
    mixed_rec = ModelRecommender(Engine(model, threads=1))
    mixed_rec.fit(plays, catalogue)
    mixed = {
        "db": mixed_db, "rec": mixed_rec, "reranker": Reranker(catalogue).fit(plays),
        "catalogue": catalogue, "rng": np.random.default_rng(3), "now": base_now,
        "last_id": state["last_id"],
    }  # fmt: skip
    sdb = service_copy(db, model, folder / "service")
    SERVING.clear()
    t = time.perf_counter()
    first = suggestions(sdb, 10, now_ms=base_now)
    gui_first_s = time.perf_counter() - t
    assert first.method == "model", first
    warm.wait_saved()
    gui = {
        "db": sdb, "catalogue": catalogue, "rng": np.random.default_rng(2),
        "seen": state["seen"], "now": base_now, "playing": None, "cpu": state["cpu"],
    }  # fmt: skip
    engine_runs, gui_runs, peer_runs, mixed_runs, first_runs = [], [], [], [], []
    cold_items = []
    for _ in range(args.runs):
        engine_runs.append(engine_block(state, args.calls))
        cold_items.append(len(rec.state.cold_split()[1]))
        every, after_first = mixed_block(mixed, args.calls, args.first_plays)
        mixed_runs.append(every)
        first_runs.append(after_first)
        gui_runs.append(gui_block(gui, args.calls))
        peer_runs.append(peer_block(state, args.calls))
    check = suggestions(sdb, 10, now_ms=gui["now"] + 1_000, cached=False)
    again = suggestions(sdb, 10, now_ms=gui["now"] + 1_000)
    assert [i.track_id for i in check.items] == [i.track_id for i in again.items]
    entry = SERVING.entry(sdb)
    sdb.close()
    mixed_db.close()
    shutil.rmtree(folder / "mixed", ignore_errors=True)
    with db.atomic():  # leave the cached store as it was
        db.execute("DELETE FROM plays WHERE started_at >= ?", [base_now])
    db.close()
    shutil.rmtree(folder / "service", ignore_errors=True)

    def med(runs: list[list[float]], q: float) -> float:
        return round(statistics.median(pct(r, q) for r in runs), 3)

    def ratio(ours: list[list[float]], q: float) -> float:
        return round(
            statistics.median(pct(a, q) / pct(b, q) for a, b in zip(ours, peer_runs, strict=True)),
            2,
        )

    result = {
        "benchmark": "recommend",
        "tracks": len(catalogue),
        "history_plays": len(plays),
        "runs": args.runs,
        "calls_per_run": args.calls,
        "intra_op_threads": 1,
        "provider": rec.engine.provider,
        "items_without_history": int(np.median(cold_items)),
        "items_with_history": len(rec.state.cold_split()[0]),
        "items_played": int(np.count_nonzero(rec.state.seen)),
        "played_per_album": args.played_per_album,
        "engine_p50_ms": med(engine_runs, 50),
        "engine_p99_ms": med(engine_runs, 99),
        "gui_p50_ms": med(gui_runs, 50),
        "gui_p99_ms": med(gui_runs, 99),
        "first_play_share": args.first_plays,
        "with_first_plays_p50_ms": med(mixed_runs, 50),
        "with_first_plays_p90_ms": med(mixed_runs, 90),
        "with_first_plays_p99_ms": med(mixed_runs, 99),
        "after_a_first_play_p50_ms": med(first_runs, 50),
        "after_a_first_play_p90_ms": med(first_runs, 90),
        "items_with_history_after_first_plays": len(mixed_rec.state.cold_split()[0]),
        "peer_p50_ms": med(peer_runs, 50),
        "peer_p99_ms": med(peer_runs, 99),
        "engine_over_peer_p50": ratio(engine_runs, 50),
        "engine_over_peer_p99": ratio(engine_runs, 99),
        "with_first_plays_over_peer_p99": ratio(mixed_runs, 99),
        "gui_over_peer_p50": ratio(gui_runs, 50),
        "gui_over_peer_p99": ratio(gui_runs, 99),
        # CPU time of the calling thread per call, all runs together: what a busy machine
        # inflates least (waiting for a core is not counted)
        **{
            f"{name}_cpu_p{q}_ms": round(pct(values, q), 3)
            for name, values in state["cpu"].items()
            for q in (50, 99)
        },
        "engine_over_peer_cpu_p50": round(
            pct(state["cpu"]["engine"], 50) / pct(state["cpu"]["peer"], 50), 2
        ),
        "gui_over_peer_cpu_p50": round(
            pct(state["cpu"]["gui"], 50) / pct(state["cpu"]["peer"], 50), 2
        ),
        "goal_engine_p99_ms": 2.0,
        "goal_gui_p99_ms": 3.0,
        "goal_ratio_p99": 1.5,
        "gui_first_call_in_process_s": round(gui_first_s, 2),
        "gui_rebuilds": entry.rebuilds,
        "gui_skips_counted_in_place": entry.reclassified,
        "fit_seconds": round(fit_seconds, 2),
        "serving_state_mb": round(state_mb, 1),
        **start_figures(db_path, model, rec, folder / "start", args.starts),
        "goal_start_warm_s": 0.3,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "recommend" if len(catalogue) == DEFAULT_TRACKS else f"recommend-{args.tracks}"
    if args.played_per_album != PER_ARTIST:
        name += f"-played{args.played_per_album}"
    name += ".json"
    (args.results or RESULTS / name).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
