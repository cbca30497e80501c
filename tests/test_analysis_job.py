"""The analysis job and the features store: what is pending, priority, cancel, resume, CLI."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from player_plugin.library.analyze_job import AnalysisJob, analyse_library
from player_plugin.store import open_db
from player_plugin.store.features import (
    VECTOR_SIZE,
    analysis_counts,
    analysis_error,
    feature_matrix,
    pending_tracks,
    track_features,
)

REPO = Path(__file__).resolve().parents[1]


def add_track(db, path: Path | bytes, *, missing: bool = False) -> int:
    """A tracks row as the scanner would leave it (size and mtime from the file)."""
    raw = os.fsencode(path)
    st = os.stat(raw) if os.path.exists(raw) else None
    return (
        db["tracks"]
        .insert(
            {
                "path": raw,
                "path_text": raw.decode("utf-8", "replace"),
                "size": st.st_size if st else 0,
                "mtime_ns": st.st_mtime_ns if st else 0,
                "missing": int(missing),
                "first_seen": 0,
                "last_scanned": 0,
            }
        )
        .last_pk
    )


def write_tone(path: Path, freq: float, seconds: float = 3.0) -> Path:
    t = np.arange(int(seconds * 22050)) / 22050
    beats = (np.sin(2 * np.pi * 2 * t) > 0.9).astype(np.float32)  # a pulse, for a tempo
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t) * (0.3 + beats)), 22050)
    return path


@pytest.fixture
def library(tmp_path, db):
    """Four good files and one that is not audio, as tracks rows."""
    ids = [add_track(db, write_tone(tmp_path / f"t{n}.flac", 220 * (n + 1))) for n in range(4)]
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS but not really" * 100)
    ids.append(add_track(db, bad))
    return ids


def test_analyses_pending_tracks_records_failures_and_skips_the_rest_next_time(db, library):
    summary = analyse_library(db, workers=0)
    assert (summary.analysed, summary.failed, summary.skipped) == (4, 1, 0)
    assert analysis_counts(db) == {"analysed": 4, "failed": 1, "pending": 0}

    features = track_features(db, library[1])
    for name in ("tempo_bpm", "loudness_lufs", "energy", "brightness", "key", "mfcc_mean"):
        assert name in features
    brightness = [track_features(db, i)["brightness"] for i in library[:4]]
    assert brightness == sorted(brightness)  # the tones rise: 220, 440, 660, 880 Hz
    assert features["extractor_version"] == "1" and features["decoder"] == "soundfile"
    assert track_features(db, library[4]) is None
    assert analysis_error(db, library[4]) == "not an audio file Segue can read, or damaged"

    again = analyse_library(db, workers=0)
    assert (again.analysed, again.failed, again.skipped) == (0, 0, 5)


def test_a_changed_file_or_a_new_extractor_makes_a_track_pending(db, library):
    analyse_library(db, workers=0)
    db.execute("UPDATE tracks SET size = size + 1 WHERE id = ?", (library[0],))
    db.execute("UPDATE tracks SET mtime_ns = mtime_ns + 1 WHERE id = ?", (library[1],))
    db.execute("UPDATE features SET extractor_version = '0' WHERE track_id = ?", (library[2],))
    pending, skipped = pending_tracks(db)
    assert [t.id for t in pending] == library[:3] and skipped == 2
    assert analysis_counts(db)["pending"] == 3
    assert analyse_library(db, workers=0).analysed == 3
    assert pending_tracks(db, force=True)[0][0].id == library[0]


def test_missing_tracks_are_left_alone(db, tmp_path):
    add_track(db, tmp_path / "gone.flac", missing=True)
    summary = analyse_library(db, workers=0)
    assert (summary.analysed, summary.failed, summary.skipped) == (0, 0, 0)


def test_priority_tracks_go_first_and_can_change_while_running(db, library):
    job = AnalysisJob(db, workers=0, priority=[library[3], library[2]])
    order = []

    def progress(p):
        order.append(p.current)
        if len(order) == 2:
            job.prioritize([library[4]])

    job.run(progress=progress)
    names = [Path(p).name for p in order]
    assert names == ["t3.flac", "t2.flac", "bad.ogg", "t0.flac", "t1.flac"]


def test_a_job_built_from_a_path_runs_in_its_own_thread(db_path, db, library):
    """As the GUI does it: build in one thread, run in another, prioritise from the first."""
    job = AnalysisJob(db_path, workers=0)
    job.prioritize([library[4], library[2]])
    order, summaries = [], []
    worker = threading.Thread(target=lambda: summaries.append(job.run(progress=order.append)))
    worker.start()
    worker.join(60)
    assert summaries and (summaries[0].analysed, summaries[0].failed) == (4, 1)
    assert [Path(p.current).name for p in order[:2]] == ["bad.ogg", "t2.flac"]
    assert order[-1].done == order[-1].total == 5
    assert analysis_counts(db) == {"analysed": 4, "failed": 1, "pending": 0}


def test_cancel_keeps_finished_batches_and_the_next_run_resumes(db, library):
    cancel = threading.Event()

    def progress(p):
        if p.done == 2:
            cancel.set()

    first = analyse_library(db, workers=0, batch_size=1, progress=progress, cancel=cancel)
    assert first.cancelled and first.analysed + first.failed == 2
    assert db.execute("SELECT count(*) FROM features").fetchone()[0] == 2
    second = analyse_library(db, workers=0)
    assert second.analysed + second.failed == 3 and second.skipped == 2
    assert analysis_counts(db)["pending"] == 0


def test_a_killed_run_leaves_its_committed_batches(tmp_path, db_path, db, library):
    script = (
        "import sys, time\n"
        "from player_plugin.store import open_db\n"
        "from player_plugin.library import analyze_job\n"
        "def slow(p):\n"
        "    print(p.done, flush=True); time.sleep(30)\n"
        "analyze_job.analyse_library(open_db(sys.argv[1]), workers=0, batch_size=1,"
        " priority=[1, 2], progress=slow)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(db_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "1"  # one result committed, then stuck
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    fresh = open_db(db_path)
    assert fresh.execute("SELECT track_id FROM features").fetchall() == [(1,)]
    summary = analyse_library(fresh, workers=0)
    assert (summary.analysed, summary.failed, summary.skipped) == (3, 1, 1)


def test_feature_matrix_rows_follow_the_ids_with_nan_where_missing(db, library):
    assert feature_matrix(db, library) is None
    analyse_library(db, workers=0)
    ids = [library[2], 999, library[4], library[0], library[2]]
    matrix = feature_matrix(db, ids)
    assert matrix.dtype == np.float32 and matrix.shape == (5, VECTOR_SIZE)
    assert np.isnan(matrix[[1, 2]]).all() and np.isfinite(matrix[[0, 3, 4]]).all()
    assert np.array_equal(matrix[0], matrix[4]) and not np.array_equal(matrix[0], matrix[3])
    db.execute("UPDATE features SET extractor_version = '0' WHERE track_id = ?", (library[0],))
    assert feature_matrix(db, [library[0]]) is None
    assert np.isnan(feature_matrix(db, library[:2])[0]).all()


def test_deleting_a_track_deletes_its_features(db, library):
    analyse_library(db, workers=0)
    db.execute("DELETE FROM tracks WHERE id = ?", (library[0],))
    assert track_features(db, library[0]) is None
    assert db.execute("SELECT count(*) FROM features").fetchone()[0] == 4


def test_worker_pool_survives_a_killed_worker_and_matches_in_process_results(db, library, caplog):
    """Spawned, warmed-up workers; one is killed mid-run: the pool is replaced, the tracks
    it held are retried, and the vectors equal those computed in the calling process."""
    killed = []

    def progress(p):
        if not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    summary = analyse_library(db, workers=2, priority=[library[3]], progress=progress)
    assert killed and "worker died" in caplog.text
    assert (summary.analysed, summary.failed) == (4, 1)
    assert analysis_counts(db) == {"analysed": 4, "failed": 1, "pending": 0}
    assert not multiprocessing.active_children()
    pooled = feature_matrix(db, library[:4])
    analyse_library(db, workers=0, force=True)
    here = feature_matrix(db, library[:4])
    np.testing.assert_allclose(pooled, here, rtol=1e-5, atol=1e-5)


def test_cli_analyze_json(segue, db, library):
    result = segue("analyze", "--json", "--workers", "0")
    assert result.status == 0, result.err
    data = result.json
    assert set(data) == {"analysed", "skipped", "failed", "seconds"}
    assert (data["analysed"], data["skipped"], data["failed"]) == (4, 0, 1)
    assert all(isinstance(v, int | float) for v in data.values())
    again = segue("analyze", "--workers", "0")
    assert again.status == 0 and "skipped 5" in again.out
    retry = segue("analyze", "--json", "--workers", "0", "--retry-failed")
    assert (retry.json["analysed"], retry.json["failed"], retry.json["skipped"]) == (0, 1, 4)


def test_cli_rejects_a_negative_worker_count(segue):
    result = segue("analyze", "--workers", "-1")
    assert result.status != 0 and result.err.count("\n") == 1 and "workers" in result.err


def test_descriptors_are_plain_json(db, library):
    analyse_library(db, workers=0, track_ids=[library[0]])
    raw = db.execute("SELECT descriptors FROM features").fetchone()[0]
    assert json.loads(raw)["key"] is None or isinstance(json.loads(raw)["key"], str)
    assert analysis_counts(db) == {"analysed": 1, "failed": 0, "pending": 4}
