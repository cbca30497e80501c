"""The background analysis job: a pool of worker processes over the tracks that need it.

Workers are spawned (never forked: the player has Qt and threads), warm librosa up once, and
live for the whole run. The job's own thread keeps a few tracks in flight per worker, takes
them from a queue that :meth:`AnalysisJob.prioritize` can reorder at any time (the playing
and queued tracks first), reports progress, honours a cancel ``threading.Event`` within a
fraction of a second, and commits results in batches, so a kill loses at most one batch and
the next run resumes where this one stopped. A file that cannot be decoded is stored with
its reason and skipped until it changes; a worker that crashes on a file is replaced, and
the files it held are retried one at a time, so only the culprit is marked failed.
Workers warm up one at a time (:func:`player_plugin.library.analysis.warm_up`), so only
one writes librosa's compiled-code cache.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import sqlite_utils
from threadpoolctl import threadpool_limits

from player_plugin.domain.paths import display
from player_plugin.library.decode import DecodeError
from player_plugin.store.db import open_db
from player_plugin.store.features import (
    AnalysisResult,
    PendingTrack,
    pending_tracks,
    save_results,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 16
IN_FLIGHT_PER_WORKER = 2
POLL_S = 0.2
# a dead worker pool waits this long for a cancel before it is replaced: a SIGTERM to the
# whole process group (a session ending) kills the workers as it cancels the job
STOPPED_WAIT_S = 0.25

__all__ = [
    "AnalysisJob",
    "AnalyzeProgress",
    "AnalyzeSummary",
    "analyse_library",
    "analyse_track",
    "default_workers",
]


@dataclass(frozen=True)
class AnalyzeProgress:
    done: int
    total: int
    analysed: int
    failed: int
    current: str  # display path of the track just finished


@dataclass(frozen=True)
class AnalyzeSummary:
    analysed: int
    skipped: int
    failed: int
    seconds: float
    cancelled: bool = False

    def as_json(self) -> dict[str, float]:
        """The `segue analyze --json` object: every value a number."""
        return {
            "analysed": self.analysed,
            "skipped": self.skipped,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
        }


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def analyse_track(track: PendingTrack) -> AnalysisResult:
    """Analyse one track (in a worker); any failure becomes a result with its reason."""
    # librosa (through analysis): loaded in the worker processes only, never in the GUI's
    from player_plugin.library.analysis import AnalysisError, analyse_file

    def failed(reason: str) -> AnalysisResult:
        return AnalysisResult(track.id, track.size, track.mtime_ns, error=reason)

    try:
        analysis = analyse_file(track.path, duration_ms=track.duration_ms)
    except (DecodeError, AnalysisError) as exc:
        return failed(exc.reason)
    except MemoryError:
        return failed("out of memory while analysing")
    except Exception as exc:  # a bug or a library's surprise: record it, keep going
        log.exception("analysis of %s failed", display(track.path))
        return failed(f"analysis failed: {type(exc).__name__}: {exc}")
    return AnalysisResult(
        track.id,
        track.size,
        track.mtime_ns,
        descriptors=analysis.descriptors,
        vector=analysis.vector.astype("<f4").tobytes(),
    )


def _init_worker() -> None:
    """In each worker (a process of ours): leave Ctrl-C to the parent, one BLAS thread,
    library warnings into the log (not bare on stderr), librosa warmed up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.ERROR)
    threadpool_limits(1)
    from player_plugin.library.analysis import warm_up  # librosa: in the workers only

    warm_up()  # one worker at a time (see analysis.warm_up)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Cancelled: stop the workers rather than wait for them (one may still be importing
    librosa, seconds on a busy machine, and a player quitting waits for this); the tracks
    they held are analysed next time."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # public from 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(5)


class _Queue:
    """Tracks still to submit; thread-safe, reorderable. Suspects (held by a crashed
    worker) go one at a time, with nothing else in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._order: deque[PendingTrack] = deque()
        self._priority: list[int] = []
        self.suspects: deque[PendingTrack] = deque()
        self.retried: set[int] = set()

    def load(self, tracks: Iterable[PendingTrack]) -> None:
        with self._lock:
            self._order = deque(tracks)
            self._reorder()

    def prioritize(self, track_ids: Iterable[int]) -> None:
        with self._lock:
            self._priority = [int(i) for i in track_ids]
            self._reorder()

    def _reorder(self) -> None:
        wanted = {track_id: n for n, track_id in enumerate(self._priority)}
        if wanted:
            first = sorted((t for t in self._order if t.id in wanted), key=lambda t: wanted[t.id])
            rest = [t for t in self._order if t.id not in wanted]
            self._order = deque(first + rest)

    def push_front(self, track: PendingTrack) -> None:
        with self._lock:
            self._order.appendleft(track)

    def pop(self) -> PendingTrack | None:
        with self._lock:
            return self._order.popleft() if self._order else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._order) + len(self.suspects)


class AnalysisJob:
    """One run of analysis over the pending tracks of *db* (see the module doc).

    *db* is an open store, used by :meth:`run` in the thread that opened it, or the path
    of one, opened by :meth:`run` in its own thread (what the GUI does: build the job in
    the GUI thread, run it in a worker thread). :meth:`prioritize` may be called from any
    thread, before or during the run. ``workers=0`` analyses in the calling process.
    """

    def __init__(
        self,
        db: sqlite_utils.Database | str | os.PathLike,
        *,
        track_ids: Iterable[int] | None = None,
        priority: Iterable[int] = (),
        force: bool = False,
        retry_failed: bool = False,
        workers: int | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._db = db
        self._force = force
        self._retry_failed = retry_failed
        self._track_ids = None if track_ids is None else list(track_ids)
        self._queue = _Queue()
        self._queue.prioritize(priority)
        self.workers = default_workers() if workers is None else max(0, workers)
        self.batch_size = max(1, batch_size)
        self.pending: list[PendingTrack] = []
        self.skipped = 0

    @property
    def total(self) -> int:
        """How many tracks this run analyses (known once :meth:`run` has started)."""
        return len(self.pending)

    def prioritize(self, track_ids: Iterable[int]) -> None:
        """Analyse these tracks (in this order) before the rest; unknown ids are ignored."""
        self._queue.prioritize(list(track_ids))

    def run(
        self,
        *,
        progress: Callable[[AnalyzeProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> AnalyzeSummary:
        start = time.perf_counter()
        self._done = self._analysed = self._failed = 0
        self._batch: list[AnalysisResult] = []
        self._progress = progress
        cancel = cancel or threading.Event()
        own = not isinstance(self._db, sqlite_utils.Database)
        self.db = self._db if isinstance(self._db, sqlite_utils.Database) else open_db(self._db)
        try:
            self.pending, self.skipped = pending_tracks(
                self.db,
                force=self._force,
                retry_failed=self._retry_failed,
                track_ids=self._track_ids,
            )
            self._queue.load(self.pending)
            if self.total and self.workers == 0:
                self._run_here(cancel)
            elif self.total:
                self._run_pool(cancel, min(self.workers, self.total))
        finally:
            self._flush()
            if own:
                self.db.close()
        return AnalyzeSummary(
            analysed=self._analysed,
            skipped=self.skipped,
            failed=self._failed,
            seconds=time.perf_counter() - start,
            cancelled=cancel.is_set() and self._done < self.total,
        )

    # -- internals ------------------------------------------------------------------------

    def _record(self, result: AnalysisResult, track: PendingTrack) -> None:
        self._batch.append(result)
        self._done += 1
        if result.error is None:
            self._analysed += 1
        else:
            self._failed += 1
            log.info("cannot analyse %s: %s", display(track.path), result.error)
        if len(self._batch) >= self.batch_size:
            self._flush()
        if self._progress is not None:
            self._progress(
                AnalyzeProgress(
                    self._done, self.total, self._analysed, self._failed, display(track.path)
                )
            )

    def _flush(self) -> None:
        if self._batch:
            save_results(self.db, self._batch)
            self._batch = []

    def _run_here(self, cancel: threading.Event) -> None:
        while not cancel.is_set() and (track := self._queue.pop()) is not None:
            self._record(analyse_track(track), track)

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )

    def _run_pool(self, cancel: threading.Event, workers: int) -> None:
        pool = self._new_pool(workers)
        in_flight: dict[Future, PendingTrack] = {}
        try:
            while not cancel.is_set():
                broken = False
                try:
                    self._fill(pool, in_flight, workers * IN_FLIGHT_PER_WORKER)
                except BrokenProcessPool:
                    broken = True
                if not in_flight:
                    break
                if not broken:
                    finished, _ = wait(in_flight, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    for future in finished:
                        track = in_flight.pop(future)
                        try:
                            self._record(future.result(), track)
                        except BrokenProcessPool:
                            broken = True
                            self._crashed(track)
                if broken:  # a worker died: replace the pool, retry what it held
                    if cancel.wait(STOPPED_WAIT_S):  # all stopped at once (a session ending)
                        break
                    log.warning("an analysis worker died; retrying its tracks one at a time")
                    for track in in_flight.values():
                        self._crashed(track)
                    in_flight.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._new_pool(workers)
        finally:
            if cancel.is_set():
                _stop_now(pool)
            else:
                pool.shutdown(wait=True, cancel_futures=True)

    def _fill(self, pool: ProcessPoolExecutor, in_flight: dict, limit: int) -> None:
        """Submit tracks up to *limit* in flight; after a crash, one suspect at a time."""
        queue = self._queue
        if queue.suspects:
            if not in_flight:
                suspect = queue.suspects[0]
                in_flight[pool.submit(analyse_track, suspect)] = suspect
                queue.suspects.popleft()
            return
        while len(in_flight) < limit and (track := queue.pop()) is not None:
            try:
                in_flight[pool.submit(analyse_track, track)] = track
            except BrokenProcessPool:
                queue.push_front(track)
                raise

    def _crashed(self, track: PendingTrack) -> None:
        queue = self._queue
        if track.id in queue.retried:
            result = AnalysisResult(
                track.id, track.size, track.mtime_ns, error="the analyser crashed on this file"
            )
            self._record(result, track)
        else:
            queue.retried.add(track.id)
            queue.suspects.append(track)


def analyse_library(
    db: sqlite_utils.Database,
    *,
    track_ids: Iterable[int] | None = None,
    priority: Iterable[int] = (),
    force: bool = False,
    retry_failed: bool = False,
    workers: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[AnalyzeProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> AnalyzeSummary:
    """Analyse the tracks that need it (all present tracks with *force*, and those that
    failed before with *retry_failed*; only *track_ids* when given), *priority* ids first;
    see :class:`AnalysisJob`."""
    job = AnalysisJob(
        db,
        track_ids=track_ids,
        priority=priority,
        force=force,
        retry_failed=retry_failed,
        workers=workers,
        batch_size=batch_size,
    )
    return job.run(progress=progress, cancel=cancel)
