"""Importing history files into the play log: parse, match, de-duplicate, write, undo.

All files are parsed before anything is written, and everything is written in one
transaction: a malformed file leaves the database unchanged. The same track starting
within ±60 s of a play already stored (from any file or format, or from an earlier file of
this import) is the same play and is not added again; "same track" is the same matched
track, or the same normalised artist + title. Each import is recorded in ``imports`` and
:func:`undo_import` removes exactly the plays it added.
"""

from __future__ import annotations

import logging
import os
import time
from bisect import bisect_left, insort
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlite_utils

from player_plugin.domain.clock import now_ms
from player_plugin.domain.normalize import match_key
from player_plugin.library.history.common import HistoryFormatError, ReadStats
from player_plugin.library.history.matching import Matcher
from player_plugin.library.history.readers import read_file
from player_plugin.library.history.records import HistoryPlay, Malformed
from player_plugin.store import imports as store
from player_plugin.store.plays import SOURCES, resession

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_MS = 60_000
MALFORMED_KEPT = 50  # how many malformed rows the report lists (all are counted)


@dataclass
class ImportReport:
    """What an import did. ``read`` counts every row: plays, malformed and not-music."""

    import_id: int | None
    format: str
    files: list[str]
    read: int = 0
    matched: int = 0
    unmatched: int = 0
    malformed: int = 0
    not_music: int = 0
    added: int = 0
    duplicates: int = 0
    methods: dict[str, int] = field(default_factory=dict)
    malformed_rows: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict:
        return asdict(self)


def _read_all(
    paths: Sequence[str | os.PathLike], fmt: str
) -> tuple[list[list[HistoryPlay]], list[Malformed], ReadStats]:
    """Parse every file first (so a bad file refuses the whole import)."""
    stats = ReadStats()
    batches: list[list[HistoryPlay]] = []
    malformed: list[Malformed] = []
    for path in paths:
        plays: list[HistoryPlay] = []
        bad: list[Malformed] = []
        before = stats.not_music
        for item in read_file(path, fmt, stats):
            (bad if isinstance(item, Malformed) else plays).append(item)
        if bad and not plays and stats.not_music == before:
            raise HistoryFormatError(
                f"{Path(path).name}: no readable plays ({len(bad)} malformed rows; "
                f"first: {bad[0].where}: {bad[0].why})"
            )
        batches.append(plays)
        malformed.extend(bad)
    return batches, malformed, stats


def import_files(
    db: sqlite_utils.Database,
    paths: Sequence[str | os.PathLike],
    fmt: str = "auto",
    *,
    matcher: Matcher | None = None,
) -> ImportReport:
    """Import history files (format detected per file with ``auto``). Raises
    :class:`HistoryFormatError` — with the database unchanged — for a file that is not a
    readable history."""
    started = time.perf_counter()
    if not paths:
        raise HistoryFormatError("no files to import")
    batches, malformed, stats = _read_all(paths, fmt)
    formats = sorted(set(stats.formats.values())) or [fmt]
    report = _import(
        db,
        batches,
        fmt="+".join(formats),
        files=[str(p) for p in paths],
        malformed=malformed,
        not_music=stats.not_music,
        matcher=matcher,
    )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def import_plays(
    db: sqlite_utils.Database,
    plays: Iterable[HistoryPlay | Malformed],
    *,
    format: str,
    files: Sequence[str] = (),
    matcher: Matcher | None = None,
) -> ImportReport:
    """Import records already read (one batch): one transaction, ±60 s de-duplication,
    recorded in ``imports``."""
    started = time.perf_counter()
    good: list[HistoryPlay] = []
    bad: list[Malformed] = []
    for item in plays:
        (bad if isinstance(item, Malformed) else good).append(item)
    report = _import(
        db, [good], fmt=format, files=list(files), malformed=bad, not_music=0, matcher=matcher
    )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


class _Seen:
    """Plays already stored or added, by (listener, track) and (listener, match key)."""

    def __init__(self) -> None:
        self.starts: dict[tuple, list[tuple[int, int]]] = defaultdict(list)

    def add(self, keys: Iterable[tuple], start: int, batch: int) -> None:
        for key in keys:
            insort(self.starts[key], (start, batch))

    def seen(self, keys: Iterable[tuple], start: int, batch: int) -> bool:
        """A play of one of *keys* within the window, from another batch (or stored), or
        at the very same time from this one."""
        for key in keys:
            entries = self.starts.get(key)
            if not entries:
                continue
            i = bisect_left(entries, (start - DUPLICATE_WINDOW_MS, -2))
            while i < len(entries) and entries[i][0] <= start + DUPLICATE_WINDOW_MS:
                other, other_batch = entries[i]
                if other_batch != batch or other == start:
                    return True
                i += 1
        return False


def _keys(listener: str | None, track_id: int | None, key: str | None) -> list[tuple]:
    keys = []
    if track_id is not None:
        keys.append((listener, "t", track_id))
    if key and not key.endswith("\x1f"):
        keys.append((listener, "k", key))
    return keys


def _import(
    db: sqlite_utils.Database,
    batches: list[list[HistoryPlay]],
    *,
    fmt: str,
    files: list[str],
    malformed: list[Malformed],
    not_music: int,
    matcher: Matcher | None,
) -> ImportReport:
    matcher = matcher or Matcher(db)
    report = ImportReport(None, fmt, files, malformed=len(malformed), not_music=not_music)
    report.malformed_rows = [f"{m.where}: {m.why}" for m in malformed[:MALFORMED_KEPT]]
    methods: Counter[str] = Counter()
    rows: list[dict] = []
    seen = _Seen()
    all_plays = [play for batch in batches for play in batch]
    report.read = len(all_plays) + len(malformed) + not_music
    if all_plays:
        low = min(p.started_at for p in all_plays) - DUPLICATE_WINDOW_MS
        high = max(p.started_at for p in all_plays) + DUPLICATE_WINDOW_MS
        for start, track_id, key, listener in store.stored_play_keys(db, low, high):
            seen.add(_keys(listener, track_id, key), start, -1)
    keys_by_text: dict[tuple[str, str], str] = {}
    for batch_no, batch in enumerate(batches):
        for play in sorted(batch, key=lambda p: p.started_at):
            found = matcher.match_play(play)
            if found is None:
                report.unmatched += 1
            else:
                report.matched += 1
                methods[found.method] += 1
            text = (play.artist, play.title)
            key = keys_by_text.get(text)
            if key is None:
                key = keys_by_text[text] = match_key(*text)
            track_id = found.track_id if found else None
            keys = _keys(play.listener, track_id, key)
            if seen.seen(keys, play.started_at, batch_no):
                report.duplicates += 1
                continue
            seen.add(keys, play.started_at, batch_no)
            rows.append(_row(play, track_id, key, found.method if found else None))
    report.methods = dict(methods)
    with db.atomic():
        report.import_id = store.create_import(db, fmt, files, now_ms())
        for row in rows:
            row["import_id"] = report.import_id
        store.insert_plays(db, rows)
        earliest: dict[str | None, int] = {}
        for row in rows:
            listener = row["listener"]
            earliest[listener] = min(earliest.get(listener, row["started_at"]), row["started_at"])
        for listener, since in earliest.items():
            resession(db, since, listener)
        report.added = len(rows)
        store.finish_import(
            db,
            report.import_id,
            {
                "read": report.read,
                "added": report.added,
                "duplicates": report.duplicates,
                "matched": report.matched,
                "unmatched": report.unmatched,
                "malformed": report.malformed,
            },
            {
                "methods": report.methods,
                "not_music": report.not_music,
                "malformed_rows": report.malformed_rows,
            },
        )
    log.info(
        "import %s: read %d, added %d, %d duplicates, %d matched, %d unmatched, %d malformed",
        report.import_id,
        report.read,
        report.added,
        report.duplicates,
        report.matched,
        report.unmatched,
        report.malformed,
    )
    return report


def _row(play: HistoryPlay, track_id: int | None, key: str, method: str | None) -> dict:
    source = getattr(play, "source", None)
    ms_played = play.ms_played if play.ms_played is not None else 0
    # Segue's own export keeps its end time as it was (even a play that never ended)
    own = source is not None
    ended = getattr(play, "ended_at", None) if own else play.started_at + ms_played
    return {
        "track_id": track_id,
        "started_at": play.started_at,
        "ended_at": ended,
        "ms_played": ms_played,
        "duration_ms": play.duration_ms,
        "reason": play.reason,
        "source": source if source in SOURCES else "import",
        "session": None,
        "shuffle": None if play.shuffle is None else int(play.shuffle),
        "skipped": None if play.skipped is None else int(play.skipped),
        "artist": play.artist,
        "title": play.title,
        "album": play.album,
        "mbid": play.mbid,
        "match_key": key,
        "match_method": method,
        "listener": play.listener,
    }


def undo_import(db: sqlite_utils.Database, import_id: int) -> int:
    """Remove import *import_id* and exactly the plays it added; returns how many plays
    were removed. Raises ``LookupError`` when there is no such import."""
    if store.get_import(db, import_id) is None:
        raise LookupError(f"no import with id {import_id}")
    return store.delete_import(db, import_id)
