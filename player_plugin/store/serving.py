"""What a cached serving state reads from the store: plays as served, and cheap change marks.

:func:`serving_plays` is :func:`player_plugin.store.catalogue.load_plays` for serving: the
same rows, order, sessions and listen rule, except that the play in progress (the newest
row, not ended, started within a session gap of now) counts as listened, and each play
keeps its row id. The ``*_mark`` functions are small queries whose answers change whenever
what a serving state was built from changes: the catalogue (scans set ``last_scanned`` on
every row they write; the missing flag; analysis), the model registry, the plays already
observed (deleted, rematched). :func:`snapshot` reads them all in one read transaction.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import sqlite_utils

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import REASON_CODES, Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play, PlayLog
from player_plugin.store.plays import REASON_SQL, SKIPPED_SQL, outcome, outcome_columns
from player_plugin.store.settings import PROVIDER_KEY

__all__ = [
    "OpenPlays",
    "ServingPlays",
    "catalogue_mark",
    "in_progress_id",
    "models_mark",
    "observed_mark",
    "played_ms",
    "serving_plays",
    "snapshot",
]

# what serving_plays reads of a row, every value an integer (an unmatched play's track -1)
_SERVED = (
    "SELECT p.id, coalesce(p.track_id, -1), p.started_at, p.ended_at IS NULL, "
    "coalesce(p.ms_played, 0), "
    f"coalesce(nullif(p.duration_ms, 0), t.duration_ms, 0), {REASON_SQL}, {SKIPPED_SQL}, "
    "coalesce(p.source = 'import', 0) FROM plays p LEFT JOIN tracks t ON t.id = p.track_id "
)
_N_SERVED = 9
_REASON_OF = {code: reason for reason, code in REASON_CODES.items()}
_COLUMNS = (
    "SELECT p.id, p.track_id, p.started_at, p.ended_at, p.ms_played, p.duration_ms, p.reason, "
    "p.skipped, t.duration_ms, p.source FROM plays p LEFT JOIN tracks t ON t.id = p.track_id "
)


@contextmanager
def snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """Every read inside sees one state of the database (a read transaction), unless the
    connection is already inside a transaction."""
    if db.conn.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def _one(db: sqlite_utils.Database, sql: str, params: Sequence = ()) -> object:
    return db.execute(sql, list(params)).fetchone()[0]


def _count(db: sqlite_utils.Database, sql: str, params: Sequence = ()) -> int:
    """The one number a ``SELECT count(*)`` returns."""
    return int(db.execute(sql, list(params)).fetchone()[0])


def catalogue_mark(db: sqlite_utils.Database) -> tuple:
    """Changes when tracks are added, removed, flagged missing or back, re-tagged or moved
    by a scan (every write sets ``last_scanned`` to the wall clock), or analysed. Each
    query is answered from an index or one row: rows added to or removed from tracks and
    features, by any connection or process, are counted by triggers (the schema's
    ``library_changes``) instead of counting the rows of both tables on every call (a
    database not migrated yet has no such table: the rows are counted then)."""
    return (
        _added_or_removed(db),
        _one(db, "SELECT max(id) FROM tracks"),
        _one(db, "SELECT max(last_scanned) FROM tracks WHERE missing = 0"),
        db.execute(
            "SELECT count(*), total(id), max(last_scanned) FROM tracks WHERE missing = 1"
        ).fetchone(),
        _one(db, "SELECT max(analysed_at) FROM features"),
    )


def features_rows(db: sqlite_utils.Database) -> int:
    """How many analysis rows the store holds (a walk of an index: asked only when the
    catalogue mark moved, never on every suggestion)."""
    return _count(db, "SELECT count(*) FROM features")


def _changes(db: sqlite_utils.Database, table: str) -> int | None:
    """The count of a change-counter table the schema's triggers bump
    (``library_changes``, ``play_changes``); None in a store not migrated to it."""
    try:
        row = db.execute(f"SELECT n FROM {table} WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # not migrated (opened with migrate=False)
        return None
    return None if row is None else row[0]


def _added_or_removed(db: sqlite_utils.Database) -> object:
    changes = _changes(db, "library_changes")
    if changes is not None:
        return ("changes", changes)
    return (_count(db, "SELECT count(*) FROM tracks"), _count(db, "SELECT count(*) FROM features"))


def models_mark(db: sqlite_utils.Database) -> tuple:
    """The models that may serve, in order, and the execution provider setting."""
    rows = db.execute(
        "SELECT id, state, folder, created_at FROM models "
        "WHERE state IN ('active', 'retired') ORDER BY state, created_at DESC, id DESC"
    ).fetchall()
    provider = db.execute("SELECT value FROM settings WHERE key = ?", [PROVIDER_KEY]).fetchone()
    return (tuple(tuple(r) for r in rows), provider[0] if provider else None)


def observed_mark(db: sqlite_utils.Database, last_id: int) -> tuple:
    """Changes when a play row up to *last_id* is deleted or rematched, or when the row
    *last_id* itself is replaced (a new row may reuse the highest id after a delete).
    The schema's ``play_changes`` counter (bumped by triggers on every delete, change of a
    play's track and play written below the newest id: a superset, read in one row) and
    the row *last_id*; a store not migrated counts the rows instead: all of them (a
    b-tree count; unmatched rows by their partial index) less those after *last_id*."""
    last = int(last_id)
    row = db.execute("SELECT started_at, track_id FROM plays WHERE id = ?", [last]).fetchone()
    changes = _changes(db, "play_changes")
    if changes is not None:
        return ("changes", changes, tuple(row) if row else None)
    count = _count(db, "SELECT count(*) FROM plays")
    newer = _count(db, "SELECT count(*) FROM plays WHERE id > ?", [last])
    unmatched = _count(db, "SELECT count(*) FROM plays WHERE track_id IS NULL")
    unmatched_newer = _count(
        db, "SELECT count(*) FROM plays WHERE id > ? AND track_id IS NULL", [last]
    )
    return (count - newer, unmatched - unmatched_newer, tuple(row) if row else None)


def in_progress_id(db: sqlite_utils.Database, now_ms: int) -> int | None:
    """The play in progress: the newest row, logged by the player (not imported), not
    ended, started within a session gap of *now_ms*; None when there is none (a row left
    open by a crash long ago is not in progress)."""
    row = db.execute(
        "SELECT id, started_at, ended_at, reason, source FROM plays "
        "ORDER BY started_at DESC, id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    pid, started, ended, reason, source = row
    if ended is not None or reason is not None or source == "import":
        return None
    return int(pid) if int(started) >= int(now_ms) - SESSION_GAP_MS else None


def _outcome(row: tuple, live: int | None) -> Outcome:
    pid, _tid, _started, _ended, ms, play_dur, reason, skipped, track_dur, _source = row
    if pid == live:
        return Outcome.LISTENED  # the listener is hearing it; its end updates the row
    return outcome(ms, play_dur or track_dur or None, reason, skipped)


@dataclass
class ServingPlays:
    """Plays of catalogue tracks as served, oldest first, with what a cache must remember."""

    plays: PlayLog = field(default_factory=PlayLog)
    last_id: int = 0  # the highest play row id read (matched or not)
    open_rows: dict[int, Outcome] = field(default_factory=dict)  # not ended: id -> served as
    last_pid: int | None = None  # the row id of the last play returned
    last_started: int | None = None  # start of the last play returned (sessions go on)
    session: int = 0  # its session number


def serving_plays(
    db: sqlite_utils.Database,
    catalogue: Catalogue,
    *,
    now_ms: int,
    after_id: int = 0,
    last_started: int | None = None,
    session: int = 0,
    reads: OpenPlays | None = None,
) -> ServingPlays:
    """Plays of catalogue tracks with a row id above *after_id*, oldest first (by start,
    then id, as ``load_plays``), sessions numbered on from *last_started*/*session*.
    *reads*: what this snapshot already read of the play in progress.

    A few rows (a suggestion's new plays) are read one by one; many (a whole history) as
    columns, classified by the listen rule's array form — a million plays in a third of
    the time, never a :class:`Play` each. Both give the same plays."""
    live = reads.live if reads is not None else in_progress_id(db, now_ms)
    out = ServingPlays(last_id=int(after_id), last_started=last_started, session=session)
    # a rowid range, sorted here: ORDER BY started_at would walk the whole start-time
    # index on every suggestion, however few plays are new
    cursor = db.execute(_SERVED + "WHERE p.id > ?", [int(after_id)])
    first = cursor.fetchmany(FEW_ROWS)
    if len(first) < FEW_ROWS:
        _read_rows(out, first, catalogue, live)
    else:
        rows = chain.from_iterable(chain(first, cursor))
        _read_columns(
            out, np.fromiter(rows, dtype=np.int64).reshape(-1, _N_SERVED), catalogue, live
        )
    return out


FEW_ROWS = 64  # fewer rows than this are read one by one: numpy's calls cost more


def _read_rows(
    out: ServingPlays, rows: list[tuple], catalogue: Catalogue, live: int | None
) -> None:
    """Fill *out* from a few rows of ``_SERVED``, one at a time."""
    if not rows:  # the most common answer: nothing new since the last suggestion
        return
    rows.sort(key=lambda r: (r[2], r[0]))
    items = _items(catalogue, np.array([r[1] for r in rows], dtype=np.int64)).tolist()
    plays = out.plays
    for row, item in zip(rows, items, strict=True):
        pid, _track, started, open_, ms, duration, reason, skipped, imported = row
        out.last_id = max(out.last_id, pid)
        if item < 0:
            continue
        if pid == live:
            kind = Outcome.LISTENED  # the listener is hearing it; its end updates the row
        else:
            kind = outcome(ms, duration or None, _REASON_OF.get(reason), skipped)
        if out.last_started is not None and started - out.last_started > SESSION_GAP_MS:
            out.session += 1
        out.last_started = started
        plays.append(Play(item, started, ms, kind, out.session))
        out.last_pid = pid
        if open_ and not imported:  # imports are never completed later
            out.open_rows[pid] = kind


def _read_columns(
    out: ServingPlays, rows: np.ndarray, catalogue: Catalogue, live: int | None
) -> None:
    """Fill *out* from many rows of ``_SERVED`` (int64[n, 9]), as columns."""
    rows = rows[np.lexsort((rows[:, 0], rows[:, 2]))]
    pid, track, started, open_, ms, duration, reason, skipped, imported = rows.T
    if len(pid):
        out.last_id = max(out.last_id, int(pid.max()))
    found = _items(catalogue, track)
    keep = found >= 0
    items = found[keep]
    pid, started, open_, imported = pid[keep], started[keep], open_[keep], imported[keep]
    if not len(pid):
        return
    kinds = outcome_columns(ms[keep], duration[keep], reason[keep], skipped[keep])
    if live is not None:
        kinds[pid == live] = Outcome.LISTENED
    last = out.last_started
    gaps = np.diff(started, prepend=started[0] if last is None else last)
    sessions = out.session + np.cumsum(gaps > SESSION_GAP_MS)
    out.plays = PlayLog.from_columns(items, started, ms[keep], kinds, sessions)
    out.last_pid, out.last_started, out.session = int(pid[-1]), int(started[-1]), int(sessions[-1])
    still = (open_ != 0) & (imported == 0)
    out.open_rows = dict(zip(pid[still].tolist(), map(Outcome, kinds[still].tolist()), strict=True))


def _items(catalogue: Catalogue, track_ids: np.ndarray) -> np.ndarray:
    """Catalogue index of each track id (-1: not in the catalogue, or unmatched: -1),
    without a dict of the whole catalogue (its ids are ascending: ``load_catalogue`` orders
    them)."""
    ids = np.asarray(catalogue.track_ids, dtype=np.int64)
    if not len(track_ids) or not ids.size:
        return np.full(len(track_ids), -1, dtype=np.int64)
    order = None if catalogue.ids_ascend else np.argsort(ids, kind="stable")
    keys = ids if order is None else ids[order]
    at = np.minimum(np.searchsorted(keys, track_ids), len(keys) - 1)
    found = keys[at] == track_ids
    index = at if order is None else order[at]
    return np.where(found, index, -1)


class OpenPlays:
    """What one refresh of a serving state reads of the plays not yet ended, each asked of
    the store once: the play in progress, and the open rows' outcomes. Inside one
    :func:`snapshot` the answers cannot change, and a refresh asked them three times (the
    last play settled, the open rows checked, then pruned) and the play in progress once
    more (the new plays): seven small queries a suggestion where two do."""

    def __init__(self, db: sqlite_utils.Database, now_ms: int) -> None:
        self.db, self.now_ms = db, now_ms
        self._known: dict[int, tuple[bool, Outcome | None]] = {}

    @functools.cached_property
    def live(self) -> int | None:
        """The play in progress (:func:`in_progress_id`)."""
        return in_progress_id(self.db, self.now_ms)

    def outcomes(self, ids: Iterable[int]) -> dict[int, tuple[bool, Outcome | None]]:
        """For each play row in *ids*: (still open, its outcome as served now); a deleted
        row answers (False, None). The rows not asked before are read in one query."""
        wanted = [int(i) for i in ids]
        missing = [i for i in dict.fromkeys(wanted) if i not in self._known]
        if missing:
            self._known.update(dict.fromkeys(missing, (False, None)))
            marks = ", ".join("?" * len(missing))
            rows = self.db.execute(_COLUMNS + f"WHERE p.id IN ({marks})", missing).fetchall()
            for row in rows:
                self._known[int(row[0])] = (row[3] is None, _outcome(row, self.live))
        return {i: self._known[i] for i in wanted}


def played_ms(db: sqlite_utils.Database, play_id: int) -> int:
    """How far play row *play_id* got (0 when it is gone)."""
    row = db.execute("SELECT ms_played FROM plays WHERE id = ?", [int(play_id)]).fetchone()
    return int(row[0] or 0) if row else 0
