"""Scanning folders into the store: walk first, then read tags in a small process pool.

Incremental: a file with the size and mtime already stored is not parsed again; a changed
one is re-read; a vanished one is flagged ``missing`` (its plays stay) and restored if it
comes back; a moved or renamed one keeps its track id, found by a content signature
(size, duration, format and the main tags). Writes go in batched transactions, so a
cancel or a kill keeps everything committed so far and the next scan resumes from there.
No Qt here: the GUI runs :func:`scan` in a worker and passes ``progress`` and ``cancel``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlite_utils

from player_plugin.domain.clock import now_ms
from player_plugin.domain.errors import SegueError
from player_plugin.domain.normalize import match_key
from player_plugin.domain.paths import PathLike, display
from player_plugin.library import walk as walking
from player_plugin.library.tags import TagError, TrackTags, read_many, try_read_tags
from player_plugin.store import tracks as store
from player_plugin.store.tracks import ID, MISSING, MTIME_NS, SIZE

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2  # mutagen is pure Python; two processes, the GUI keeps a core
POOL_MIN_FILES = 256  # fewer files than this are read in-process (no pool start-up)
BATCH_FILES = 500  # results per transaction
BATCH_SECONDS = 1.0  # ... or this long, whichever comes first
PROGRESS_SECONDS = 0.05

Phase = Literal["walk", "read", "done"]


@dataclass(slots=True, frozen=True)
class ScanProgress:
    """``done`` of ``total`` files handled (``total`` is 0 while walking)."""

    done: int
    total: int
    current: str
    phase: Phase = "read"


@dataclass
class ScanSummary:
    """What a scan did; :meth:`as_json` is the ``segue scan --json`` object."""

    added: int = 0
    updated: int = 0  # re-read because changed, or restored after being missing
    moved: int = 0
    removed: int = 0  # newly flagged missing
    unchanged: int = 0
    errors: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    restored: int = 0  # of ``updated``: missing files that came back
    rematched: int = 0  # history plays that found their track after this scan
    error_list: list[tuple[bytes, str]] = field(default_factory=list, repr=False)

    def as_json(self) -> dict[str, float | int]:
        """The CLI contract: every value a number."""
        return {
            "added": self.added,
            "updated": self.updated,
            "moved": self.moved,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


ProgressCallback = Callable[[ScanProgress], None]


class ScanError(SegueError):
    """The scan cannot start (no folder given)."""


def signature(size: int, tags: TrackTags) -> str:
    """What a file is, independent of where it lives: for recognising moves and renames."""
    title = None if tags.title_from_name else tags.title
    parts = (size, tags.duration_ms, tags.format, tags.artist, title, tags.album, tags.track_no)
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:24]


# json.dumps(value, ensure_ascii=False), without building an encoder on each call
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def track_row(found: walking.FoundFile, tags: TrackTags, now_ms: int) -> dict[str, Any]:
    """The tracks-table values for *found* with *tags* (see ``store.tracks.FILE_COLUMNS``)."""
    row = {column: getattr(tags, column, None) for column in store.FILE_COLUMNS}
    bitrate = tags.bitrate
    if not bitrate and tags.duration_ms:
        bitrate = round(found.size * 8000 / tags.duration_ms)
    row.update(
        path=found.path,
        path_text=display(found.path),
        size=found.size,
        mtime_ns=found.mtime_ns,
        bitrate=bitrate,
        artists=_to_json(tags.artists),
        genres=_to_json(tags.genres),
        has_cover=int(tags.has_cover),
        match_key=match_key(tags.artist, tags.title),
        signature=signature(found.size, tags),
        now=now_ms,
    )
    return row


def pool_workers(cpus: int, load: float) -> int:
    """Worker processes for a scan on *cpus* cores while *load* other tasks run:
    :data:`DEFAULT_WORKERS` when that many cores are idle, else 0 (read in-process).

    A pool only pays when it gets cores of its own: every result is pickled across (and a
    spawned worker costs ~0.15 CPU seconds to start), so on a busy machine a pool used
    1.3x the CPU of reading in-process and finished later (issue 15's profile). For a
    process that does nothing else (`segue scan`); a GUI keeps the pool, whose workers hold
    no lock its event loop needs."""
    idle = int(cpus - load + 0.5)
    return DEFAULT_WORKERS if min(cpus, idle) >= DEFAULT_WORKERS else 0


def others_running(loadavg: str, own: int = 1) -> int | None:
    """How many other tasks are running or ready to run right now, from the text of
    ``/proc/loadavg`` (its fourth field, ``runnable/total``, counts this process's *own*
    runnable threads too); None when the text does not say."""
    try:
        return max(0, int(loadavg.split()[3].split("/")[0]) - own)
    except (IndexError, ValueError):
        return None


def _own_runnable() -> int:
    """This process's threads that are running or ready (Linux ``/proc/self/task``): the
    reading thread, and e.g. a BLAS thread still spinning after numpy's import."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat", "rb") as f:
                count += f.read().rpartition(b") ")[2][:1] == b"R"
        except OSError:  # the thread ended meanwhile
            continue
    return max(1, count)


def idle_workers() -> int:
    """:func:`pool_workers` for this machine now: what other processes run at this moment
    (Linux), else the 1-minute load average. Not the average where the moment is known: a
    scan started right after another heavy command would see that command's minute and
    read in one process on two idle cores (benchmarks/scan_peer.py, where the peer just
    ran)."""
    try:
        with open("/proc/loadavg") as f:
            load: float | None = others_running(f.read(), _own_runnable())
    except OSError:
        load = None
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # no load average on this system: assume an idle machine
            load = 0.0
    return pool_workers(os.cpu_count() or 1, load)


def start_method() -> str:
    """How the tag-reading pool starts its workers: ``fork`` where that is safe (Linux, one
    thread, no Qt in the process: `segue scan`, the player's scan child), so the workers
    begin with the modules already imported — the first tags arrive ~30 ms after the pool
    starts instead of ~250 ms; else ``spawn`` (a fork of a process running Qt or other
    threads can deadlock on a lock one of them held)."""
    safe = (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and "PySide6" not in sys.modules  # any Qt module imports the package first
    )
    return "fork" if safe else "spawn"


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent decides, workers just stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class TagReader:
    """Reads tags in-process for few files, else in a pool of processes (started as
    :func:`start_method` says). :meth:`start` early (while the walk runs) to hide the
    pool's start-up; :meth:`close` stops it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: Any = None

    def start(self) -> None:
        if self.pool is None and self.workers > 0:
            # Here, not at the top: most scans (every no-change rescan, `segue scan` on a
            # busy machine) read in-process, and multiprocessing costs ~20 ms of start-up.
            import multiprocessing

            context = multiprocessing.get_context(start_method())
            self.pool = context.Pool(self.workers, initializer=_ignore_sigint)

    def read(
        self, paths: list[bytes], cancel: threading.Event | None = None
    ) -> Generator[tuple[bytes, TrackTags | TagError], None, None]:
        """Tags of *paths*, in any order."""
        if self.workers <= 0 or (self.pool is None and len(paths) < POOL_MIN_FILES):
            for path in paths:
                if cancel is not None and cancel.is_set():
                    return
                yield path, try_read_tags(path)
            return
        self.start()
        chunk = max(8, min(64, len(paths) // (self.workers * 16) or 1))
        chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
        for results in self.pool.imap_unordered(read_many, chunks):
            yield from results
            if cancel is not None and cancel.is_set():
                return

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


@dataclass
class _Batch:
    """Writes waiting for the next transaction."""

    upserts: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    restores: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    errors: list[tuple[bytes, str, str]] = field(default_factory=list)
    cleared: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(map(len, vars(self).values()))

    def flush(self, db: sqlite_utils.Database) -> None:
        if not len(self):
            return
        with db.atomic():
            store.upsert_tracks(db, self.upserts)
            store.move_tracks(db, self.moves)
            store.set_missing(db, self.restores, False)
            store.set_missing(db, self.missing, True)
            store.record_errors(db, self.errors, now_ms())
            store.clear_errors(db, self.cleared)
        for items in vars(self).values():
            items.clear()


class _Scan:
    """One scan's state, in phases: walk, plan, read + store, finish."""

    def __init__(self, db, roots, progress, cancel, workers) -> None:
        self.db = db
        self.roots = roots
        self.progress = progress
        self.cancel = cancel
        self.summary = ScanSummary()
        self.batch = _Batch()
        self.reader = TagReader(workers)
        self.last_flush = time.monotonic()
        self.last_progress = 0.0
        self.index = store.load_index(db)
        self.old_errors = store.error_paths(db)
        self.seen: set[bytes] = set()
        self.to_read: dict[bytes, walking.FoundFile] = {}
        self.vanished: dict[int, bytes] = {}  # track id -> old path, not found this time
        self.candidates: dict[str, list[int]] = {}  # signature -> vanished or missing ids
        self.done = 0

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def run(self) -> ScanSummary:
        started = time.monotonic()
        try:
            complete = self.walk()
            if complete:
                self.plan_moves()
            self.read_and_store()
            if not self.cancelled:
                self.finish()
            self.summary.cancelled = self.cancelled
            self.flush()
        finally:
            self.reader.close()
        self.summary.seconds = time.monotonic() - started
        self.report(self.done, len(self.seen), "", "done", force=True)
        return self.summary

    def walk(self) -> bool:
        """Find the files; sort them into unchanged, restored and to be read."""
        walk = walking.Walk(
            self.roots,
            cancel=self.cancel,
            on_folder=lambda folder, n: self.report(n, 0, folder, "walk"),
        )
        for found in walk.files():
            self.seen.add(found.path)
            entry = self.index.get(found.path)
            if (
                entry is not None
                and entry[SIZE] == found.size
                and entry[MTIME_NS] == found.mtime_ns
            ):
                if entry[MISSING]:
                    self.batch.restores.append(entry[ID])
                    self.summary.updated += 1
                    self.summary.restored += 1
                else:
                    self.summary.unchanged += 1
            else:
                self.to_read[found.path] = found
                if len(self.to_read) == POOL_MIN_FILES:
                    self.reader.start()  # the workers start up while the walk goes on
        for path, reason in walk.errors:
            self.error(path, reason)
        self.failed_dirs = walk.failed_dirs
        return walk.complete

    def plan_moves(self) -> None:
        """Tracks under the roots that were not found (unless their folder was unreadable)
        have vanished; they and the already-missing ones may turn up under a new name."""
        seen = self.seen
        for path, row in self.index.items():
            if not row[MISSING] and path in seen:
                continue  # found where it was: most tracks, nothing to plan
            entry = store.index_entry(row)
            gone = (
                not entry.missing
                and path not in seen
                and self.under_roots(path)
                and not any(walking.is_under(path, bad) for bad in self.failed_dirs)
            )
            if gone:
                self.vanished[entry.id] = path
            if (gone or entry.missing) and entry.signature:
                self.candidates.setdefault(entry.signature, []).append(entry.id)

    def read_and_store(self) -> None:
        total = len(self.seen)
        self.done = total - len(self.to_read)
        self.report(self.done, total, "", "read", force=True)
        now = now_ms()
        results = self.reader.read(list(self.to_read), self.cancel)
        try:
            for path, result in results:
                self.done += 1
                self.report(self.done, total, path, "read")
                if isinstance(result, TagError):
                    self.error(path, result.reason)
                else:
                    self.store_track(self.to_read[path], result, now)
                    if path in self.old_errors:
                        self.batch.cleared.append(path)
                self.maybe_flush()
                if self.cancelled:
                    break
        finally:
            results.close()

    def store_track(self, found: walking.FoundFile, tags: TrackTags, now: int) -> None:
        row = track_row(found, tags, now)
        if found.path in self.index:
            self.batch.upserts.append(row)
            self.summary.updated += 1
            return
        for track_id in self.candidates.get(row["signature"], ()):
            # The same content under a new name: a move (or a missing file come back).
            self.candidates[row["signature"]].remove(track_id)
            self.vanished.pop(track_id, None)
            self.batch.moves.append({**row, "id": track_id})
            self.summary.moved += 1
            return
        self.batch.upserts.append(row)
        self.summary.added += 1

    def finish(self) -> None:
        """Flag what vanished; forget old errors of files that are no longer there."""
        self.batch.missing.extend(self.vanished)
        self.summary.removed = len(self.vanished)
        errored = {path for path, _ in self.summary.error_list}
        self.batch.cleared.extend(
            path
            for path in self.old_errors
            if path not in self.seen and path not in errored and self.under_roots(path)
        )

    def under_roots(self, path: bytes) -> bool:
        return any(walking.is_under(path, root) for root in self.roots)

    def report(self, done: int, total: int, current: bytes | str, phase: Phase, force=False):
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last_progress >= PROGRESS_SECONDS:
            self.last_progress = now
            text = current if isinstance(current, str) else display(current)
            self.progress(ScanProgress(done, total, text, phase))

    def maybe_flush(self) -> None:
        if len(self.batch) >= BATCH_FILES or time.monotonic() - self.last_flush >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.batch.flush(self.db)
        self.last_flush = time.monotonic()

    def error(self, path: bytes, reason: str) -> None:
        self.summary.errors += 1
        self.summary.error_list.append((path, reason))
        self.batch.errors.append((path, display(path), reason))


def scan(
    db: sqlite_utils.Database,
    roots: Iterable[PathLike],
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> ScanSummary:
    """Import or re-scan *roots* (folders or single files) into the store.

    *progress* receives :class:`ScanProgress` (throttled to ~20 per second, plus the last);
    setting *cancel* stops soon after, keeping every batch written so far. *workers*: reader
    processes (0: in-process; see :func:`idle_workers`), by default two.
    Per-file problems are stored in ``scan_errors``, counted in the summary, and never stop
    the scan.
    """
    roots = list(roots)
    if any(not os.fsencode(root).strip() for root in roots):
        raise ScanError("an empty path is no folder (give the folder to scan)")
    root_list = walking.normalise_roots(roots)
    if not root_list:
        raise ScanError("no folder to scan")
    if workers is None:
        workers = min(DEFAULT_WORKERS, os.cpu_count() or 1)
    summary = _Scan(db, root_list, progress, cancel, workers).run()
    if summary.added or summary.updated or summary.moved:
        # New tracks may be what earlier imported plays were waiting for. Imported here, not
        # at the top: matching loads rapidfuzz (~20 ms), which a no-change rescan never needs.
        from player_plugin.library.history.matching import rematch_unmatched

        summary.rematched = rematch_unmatched(db)
    return summary
