"""Importing history files into the play log: parse, match, de-duplicate, write, undo.

All files are parsed (streamed) before anything is written, and everything is written in
one ``BEGIN IMMEDIATE`` transaction: a malformed file leaves the database unchanged, and
the de-duplication reads the plays as they are at write time (two imports of one file at
once add each play once). Every play is validated (:mod:`player_plugin.domain.validate`:
times, ms heard, durations; NUL bytes dropped); one that fails is a malformed row, and a
file with more malformed rows than good ones is refused whole. The same track starting
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import sqlite_utils

from player_plugin.domain import validate
from player_plugin.domain.clock import now_ms
from player_plugin.domain.normalize import match_key
from player_plugin.library.history.common import HistoryFormatError, ReadStats
from player_plugin.library.history.matching import Match, Matcher
from player_plugin.library.history.readers import history_files, read_file
from player_plugin.library.history.records import HistoryPlay, Malformed
from player_plugin.store import imports as store
from player_plugin.store.plays import SOURCES, resession

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_MS = 60_000
REFUSE_MIN_MALFORMED = 10
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


def checked_play(play: HistoryPlay) -> HistoryPlay | Malformed | None:
    """*play* with its numbers and times validated and NUL bytes dropped from its text;
    None when it is fine as it is, a :class:`Malformed` reason when it is not a play."""
    try:
        validate.check_time(play.started_at, "start time")
        if play.ms_played is not None:
            validate.check_ms_heard(play.ms_played)
        duration = play.duration_ms
        if duration is not None:
            duration = None if duration <= 0 else validate.check_duration(duration)
        ended = getattr(play, "ended_at", None)
        if ended is not None:
            validate.check_time(ended, "end time")
    except validate.InvalidValue as exc:
        return Malformed("", str(exc))
    changes: dict[str, object] = {}
    if duration != play.duration_ms:
        changes["duration_ms"] = duration
    for name in ("artist", "title", "album", "mbid", "listener", "source"):
        value = getattr(play, name, None)
        if isinstance(value, str) and "\x00" in value:
            changes[name] = validate.clean_text(value)
    return replace(play, **changes) if changes else None  # type: ignore[arg-type]  # fields by name


@dataclass
class _FileRead:
    plays: list[HistoryPlay] = field(default_factory=list)
    malformed: int = 0
    kept: list[Malformed] = field(default_factory=list)  # the first MALFORMED_KEPT

    def bad(self, item: Malformed) -> None:
        self.malformed += 1
        if len(self.kept) < MALFORMED_KEPT:
            self.kept.append(item)


def _read_one(path: str | os.PathLike, fmt: str, stats: ReadStats) -> _FileRead:
    """The plays of one file (validated). A file whose malformed rows outnumber its good
    ones (and are at least :data:`REFUSE_MIN_MALFORMED`, so a short file with two typos
    still imports) is refused whole: it is not the history it claims to be."""
    read = _FileRead()
    before = stats.not_music
    where = Path(path).name
    for item in read_file(path, fmt, stats):
        if isinstance(item, Malformed):
            read.bad(item)
            continue
        checked = checked_play(item)
        if isinstance(checked, Malformed):
            read.bad(Malformed(f"{where} {item.started_at}", checked.why))
        else:
            read.plays.append(checked or item)
    good = len(read.plays) + stats.not_music - before
    if read.malformed > good and (good == 0 or read.malformed >= REFUSE_MIN_MALFORMED):
        first = read.kept[0]
        what = "no readable plays" if not good else f"only {good} readable rows"
        raise HistoryFormatError(
            f"{Path(path).name}: {what} and {read.malformed} malformed "
            f"(first: {first.where}: {first.why})"
        )
    return read


def _read_all(
    paths: Sequence[str | os.PathLike], fmt: str
) -> tuple[list[list[HistoryPlay]], list[Malformed], int, ReadStats]:
    """Parse every file first (so a bad file refuses the whole import): the plays of
    each file, the first malformed rows, how many were malformed, the read counters."""
    stats = ReadStats()
    batches: list[list[HistoryPlay]] = []
    malformed: list[Malformed] = []
    count = 0
    for path in paths:
        read = _read_one(path, fmt, stats)
        batches.append(read.plays)
        malformed.extend(read.kept[: MALFORMED_KEPT - len(malformed)])
        count += read.malformed
    return batches, malformed, count, stats


def import_files(
    db: sqlite_utils.Database,
    paths: Sequence[str | os.PathLike],
    fmt: str = "auto",
    *,
    matcher: Matcher | None = None,
) -> ImportReport:
    """Import history files (format detected per file with ``auto``; a folder gives the
    histories inside it). Raises :class:`HistoryFormatError` — with the database unchanged
    — for a file that is not a readable history, or a folder that holds none."""
    started = time.perf_counter()
    if not paths:
        raise HistoryFormatError("no files to import")
    paths = history_files(paths)
    batches, malformed, count, stats = _read_all(paths, fmt)
    formats = sorted(set(stats.formats.values())) or [fmt]
    report = _import(
        db,
        batches,
        fmt="+".join(formats),
        files=[str(p) for p in paths],
        malformed=malformed,
        malformed_count=count,
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
        if isinstance(item, Malformed):
            bad.append(item)
            continue
        checked = checked_play(item)
        if isinstance(checked, Malformed):
            bad.append(Malformed(str(item.started_at), checked.why))
        else:
            good.append(checked or item)
    report = _import(
        db,
        [good],
        fmt=format,
        files=list(files),
        malformed=bad,
        malformed_count=len(bad),
        not_music=0,
        matcher=matcher,
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
    keys: list[tuple] = []  # (listener, "t", track id) or (listener, "k", match key)
    if track_id is not None:
        keys.append((listener, "t", track_id))
    if key and not key.endswith("\x1f"):
        keys.append((listener, "k", key))
    return keys


def _data_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA data_version").fetchone()[0])


def _import(
    db: sqlite_utils.Database,
    batches: list[list[HistoryPlay]],
    *,
    fmt: str,
    files: list[str],
    malformed: list[Malformed],
    malformed_count: int,
    not_music: int,
    matcher: Matcher | None,
) -> ImportReport:
    report = ImportReport(None, fmt, files, malformed=malformed_count, not_music=not_music)
    report.malformed_rows = [f"{m.where}: {m.why}" for m in malformed[:MALFORMED_KEPT]]
    all_plays = [play for batch in batches for play in batch]
    report.read = len(all_plays) + malformed_count + not_music
    version = _data_version(db)
    matcher = matcher or Matcher(db)
    ordered = [sorted(batch, key=lambda p: p.started_at) for batch in batches]
    found = [[matcher.match_play(play) for play in batch] for batch in ordered]
    # One write transaction from here: the plays to de-duplicate against are the plays as
    # they are now (a second import of the same file waits, then finds them all known),
    # and a scan that committed tracks since the matching above is matched against too.
    with db.atomic():
        if _data_version(db) != version:
            fresh = Matcher(db)
            found = [
                [
                    hit if hit is not None else fresh.match_play(play)
                    for play, hit in zip(b, f, strict=True)
                ]
                for b, f in zip(ordered, found, strict=True)
            ]
        rows = _new_rows(db, ordered, found, all_plays, report)
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


def _new_rows(
    db: sqlite_utils.Database,
    batches: list[list[HistoryPlay]],
    found: list[list[Match | None]],
    all_plays: list[HistoryPlay],
    report: ImportReport,
) -> list[dict]:
    """The rows to add (inside the write transaction): plays not already stored, nor
    added earlier in this import, within ±60 s."""
    methods: Counter[str] = Counter()
    rows: list[dict] = []
    seen = _Seen()
    if all_plays:
        low = min(p.started_at for p in all_plays) - DUPLICATE_WINDOW_MS
        high = max(p.started_at for p in all_plays) + DUPLICATE_WINDOW_MS
        for start, track_id, key, listener in store.stored_play_keys(db, low, high):
            seen.add(_keys(listener, track_id, key), start, -1)
    keys_by_text: dict[tuple[str, str], str] = {}
    for batch_no, (batch, hits) in enumerate(zip(batches, found, strict=True)):
        for play, hit in zip(batch, hits, strict=True):
            if hit is None:
                report.unmatched += 1
            else:
                report.matched += 1
                methods[hit.method] += 1
            text = (play.artist, play.title)
            key = keys_by_text.get(text)
            if key is None:
                key = keys_by_text[text] = match_key(*text)
            track_id = hit.track_id if hit else None
            keys = _keys(play.listener, track_id, key)
            if seen.seen(keys, play.started_at, batch_no):
                report.duplicates += 1
                continue
            seen.add(keys, play.started_at, batch_no)
            rows.append(_row(play, track_id, key, hit.method if hit else None))
    report.methods = dict(methods)
    return rows


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
    with db.atomic():
        if store.get_import(db, import_id) is None:
            raise LookupError(f"no import with id {import_id}")
        return store.delete_import(db, import_id)
