"""Audio features in the store: the vector's layout and version, and every features query.

A ``features`` row per analysed track holds the named descriptors (JSON, people's units),
the fixed-length float32 vector the model and the content baseline read, the extractor's
version and the file's size/mtime as the scan saw them. A row whose version or file stats
no longer match is stale: the track is pending again. A row with ``error`` set records why
the file could not be analysed; it is skipped until the file or the extractor changes.

The layout below is a contract shared by the analyser (``library/analysis.py``), which
fills it, and the model and baselines, which read it. Any change to it, or to how a value
is computed, bumps :data:`EXTRACTOR_VERSION`, which makes every track pending again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

EXTRACTOR_VERSION = "1"

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
N_MFCC = 13

# The vector, in order. Every value is scaled by a fixed rule (never by library statistics,
# so a trained model stays valid as the library grows) to be roughly within [-3, 3]:
VECTOR_FIELDS: tuple[str, ...] = (
    "tempo",  # log2(tempo_bpm / 120); 0 when no tempo was found
    "beat_strength",  # pulse clarity in [0, 1]: tempogram autocorrelation at the tempo
    "loudness",  # (loudness_lufs + 20) / 10; silence is -70 LUFS
    "dynamic_range",  # dynamic_range_db / 10
    "energy",  # (20 log10(energy) + 20) / 10, energy = mean RMS of the excerpt
    "brightness",  # log2(brightness / 2000), brightness = mean spectral centroid in Hz
    "rolloff",  # log2(rolloff_hz / 4000), the 85% spectral roll-off
    "flatness",  # log10(flatness + 1e-6) / 3: 0 for noise, about -1 to -2 for tones
    *(f"mfcc{i}_mean" for i in range(N_MFCC)),  # MFCC means / 50
    *(f"mfcc{i}_std" for i in range(N_MFCC)),  # MFCC standard deviations / 50
    *(f"chroma_{name}" for name in PITCH_CLASSES),  # mean chroma, summing to 1
    "key_cos",  # the key on the circle of fifths (a minor key at its relative major),
    "key_sin",  # times key_strength: 0 when there is no key
    "key_major",  # 1 major, 0 minor, 0.5 no key
    "key_strength",  # Krumhansl–Schmuckler correlation of the best key, in [-1, 1]
)
VECTOR_SIZE = len(VECTOR_FIELDS)

__all__ = [
    "EXTRACTOR_VERSION",
    "VECTOR_FIELDS",
    "VECTOR_SIZE",
    "AnalysisResult",
    "PendingTrack",
    "analysis_counts",
    "analysis_error",
    "feature_matrix",
    "pending_tracks",
    "save_results",
    "track_features",
]


@dataclass(frozen=True)
class PendingTrack:
    """A track to analyse, with the file stats its result will be stored against."""

    id: int
    path: bytes
    size: int | None
    mtime_ns: int | None
    duration_ms: int | None


@dataclass(frozen=True)
class AnalysisResult:
    """What one analysis produced: descriptors and vector, or an error reason."""

    track_id: int
    size: int | None
    mtime_ns: int | None
    descriptors: dict | None = None
    vector: bytes | None = None
    error: str | None = None


_STALE = """
    f.track_id IS NULL
    OR f.extractor_version != :version
    OR f.file_size IS NOT t.size
    OR f.file_mtime_ns IS NOT t.mtime_ns
"""


def pending_tracks(
    db: sqlite_utils.Database,
    *,
    version: str = EXTRACTOR_VERSION,
    force: bool = False,
    retry_failed: bool = False,
    track_ids: Iterable[int] | None = None,
) -> tuple[list[PendingTrack], int]:
    """The present tracks that need analysis (all with *force*; also those that failed
    with *retry_failed*), oldest id first, and how many present tracks are up to date
    (skipped). *track_ids* limits both to those ids."""
    where = "t.missing = 0"
    params: dict = {"version": version}
    if track_ids is not None:
        ids = sorted({int(i) for i in track_ids})
        params.update({f"id{n}": i for n, i in enumerate(ids)})
        where += " AND t.id IN (" + ", ".join(f":id{n}" for n in range(len(ids))) + ")"
        if not ids:
            return [], 0
    stale = "1" if force else _STALE + (" OR f.error IS NOT NULL" if retry_failed else "")
    rows = db.execute(
        f"""
        SELECT t.id, t.path, t.size, t.mtime_ns, t.duration_ms, ({stale}) AS stale
        FROM tracks t LEFT JOIN features f ON f.track_id = t.id
        WHERE {where}
        ORDER BY t.id
        """,
        params,
    ).fetchall()
    pending = [PendingTrack(r[0], bytes(r[1]), r[2], r[3], r[4]) for r in rows if r[5]]
    return pending, len(rows) - len(pending)


def save_results(db: sqlite_utils.Database, results: Sequence[AnalysisResult]) -> None:
    """Store a batch of results in one transaction (a kill loses at most this batch)."""
    now = int(time.time() * 1000)
    rows = [
        (
            r.track_id,
            EXTRACTOR_VERSION,
            r.mtime_ns,
            r.size,
            now,
            r.error,
            None if r.descriptors is None else json.dumps(r.descriptors, allow_nan=False),
            r.vector,
        )
        for r in results
    ]
    with db.atomic():
        for row in rows:
            # A track deleted while it was being analysed has no row to attach to: skip it.
            db.execute(
                """
                INSERT INTO features (track_id, extractor_version, file_mtime_ns, file_size,
                                      analysed_at, error, descriptors, vector)
                SELECT ?, ?, ?, ?, ?, ?, ?, ?
                WHERE EXISTS (SELECT 1 FROM tracks WHERE id = ?1)
                ON CONFLICT (track_id) DO UPDATE SET
                    extractor_version = excluded.extractor_version,
                    file_mtime_ns = excluded.file_mtime_ns,
                    file_size = excluded.file_size,
                    analysed_at = excluded.analysed_at,
                    error = excluded.error,
                    descriptors = excluded.descriptors,
                    vector = excluded.vector
                """,
                row,
            )


def track_features(db: sqlite_utils.Database, track_id: int) -> dict | None:
    """The named descriptors of one track (``tempo_bpm``, ``loudness_lufs``, ``energy``,
    ``brightness``, ``key``, ...) plus ``extractor_version`` and ``analysed_at``; None when
    the track has not been analysed or its analysis failed (see :func:`analysis_error`)."""
    row = db.execute(
        "SELECT descriptors, extractor_version, analysed_at FROM features "
        "WHERE track_id = ? AND error IS NULL AND descriptors IS NOT NULL",
        (track_id,),
    ).fetchone()
    if row is None:
        return None
    features = json.loads(row[0])
    features["extractor_version"] = row[1]
    features["analysed_at"] = row[2]
    return features


def analysis_error(db: sqlite_utils.Database, track_id: int) -> str | None:
    """Why the track's last analysis failed, or None."""
    row = db.execute("SELECT error FROM features WHERE track_id = ?", (track_id,)).fetchone()
    return None if row is None else row[0]


def feature_matrix(db: sqlite_utils.Database, track_ids: Sequence[int]) -> np.ndarray | None:
    """A float32 array ``(len(track_ids), VECTOR_SIZE)`` in the order given; a row is NaN
    where the track has no current analysis (none, failed, or an older extractor). None
    when no track given has one."""
    ids = [int(i) for i in track_ids]
    matrix = np.full((len(ids), VECTOR_SIZE), np.nan, dtype=np.float32)
    where: dict[int, list[int]] = {}
    for row, track_id in enumerate(ids):
        where.setdefault(track_id, []).append(row)
    found = False
    unique = list(where)
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for track_id, blob in db.execute(
            f"SELECT track_id, vector FROM features WHERE track_id IN ({marks}) "
            "AND error IS NULL AND vector IS NOT NULL AND extractor_version = ?",
            [*chunk, EXTRACTOR_VERSION],
        ):
            vector = np.frombuffer(blob, dtype="<f4")
            if vector.shape == (VECTOR_SIZE,):
                matrix[where[track_id]] = vector
                found = True
    return matrix if found else None


def analysis_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """For `segue doctor`: present tracks ``analysed`` (current, no error), ``failed``
    (current, with an error) and ``pending`` (no row, or a stale one)."""
    row = db.execute(
        f"""
        SELECT
            sum(CASE WHEN NOT ({_STALE}) AND f.error IS NULL THEN 1 ELSE 0 END),
            sum(CASE WHEN NOT ({_STALE}) AND f.error IS NOT NULL THEN 1 ELSE 0 END),
            sum(CASE WHEN ({_STALE}) THEN 1 ELSE 0 END)
        FROM tracks t LEFT JOIN features f ON f.track_id = t.id
        WHERE t.missing = 0
        """,
        {"version": EXTRACTOR_VERSION},
    ).fetchone()
    return {"analysed": row[0] or 0, "failed": row[1] or 0, "pending": row[2] or 0}
