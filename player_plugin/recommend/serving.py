"""Serving suggestions statefully: the fitted state kept per database file between calls.

The GUI asks for suggestions on every track change. Building them from scratch means
loading the catalogue and every play, loading the model and replaying the whole history:
seconds on a large library. :data:`CACHE` keeps, per database file, the catalogue, the
fitted recommender (the active model's engine with its item-vector cache, or a baseline),
the fitted re-ranker and the newest play row observed. Each call first asks the store a
few cheap questions (:mod:`player_plugin.store.serving`): did the catalogue change, the
model registry, the plays already observed (deleted, rematched), or the outcome of a play
observed while open (the play in progress ends as a skip)? Any of these, or a method that
cannot learn incrementally, or plays logged out of order, rebuilds the state exactly as
the uncached path does; otherwise only the new play rows are observed. The answers equal
``suggestions(..., cached=False)``: tests/test_serving.py checks that after every step.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import sqlite_utils

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.recommend.base import Recommender
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.store.catalogue import load_catalogue
from player_plugin.store.models import db_file
from player_plugin.store.serving import (
    catalogue_mark,
    models_mark,
    observed_mark,
    open_outcomes,
    played_ms,
    serving_plays,
    snapshot,
)

log = logging.getLogger(__name__)

__all__ = ["CACHE", "INCREMENTAL", "ServingCache", "ServingEntry", "ServingState"]

# Methods whose fit is a replay of observe (and whose scores do not draw at random), so
# observing new plays gives the same state as fitting on all of them.
INCREMENTAL = frozenset(
    {"model", "session-knn", "item-knn", "most-played", "recent", "markov", "content"}
)
MAX_ENTRIES = 4  # database files kept (the GUI uses one)


@dataclass
class ServingState:
    """Everything one database's suggestions are built from, and what it was built on."""

    method: str | None  # as asked (None: the active model, else the default baseline)
    catalogue_mark: tuple
    models_mark: tuple
    catalogue: Catalogue
    rec: Recommender
    model_id: str | None
    rules: RerankSettings
    reranker: Reranker
    plays: list[Play]
    last_id: int  # the highest play row id read
    observed_mark: tuple
    open_rows: dict[int, Outcome] = field(default_factory=dict)  # open when observed: outcome
    last_pid: int | None = None  # the row id of plays[-1]
    last_started: int | None = None
    session: int = 0

    @property
    def engine(self) -> object:
        return getattr(self.rec, "engine", None)


@dataclass
class ServingEntry:
    """One database file's state, its lock, and counters for tests and benchmarks."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    state: ServingState | None = None
    rebuilds: int = 0  # full builds (the first included)
    updates: int = 0  # calls answered by observing only new plays (or nothing new)
    observed: int = 0  # plays observed incrementally
    reclassified: int = 0  # plays in progress that ended as a skip, counted so in place
    last_reason: str | None = None  # why the last rebuild happened


class ServingCache:
    """Serving states by resolved database path (an in-memory database is not cached)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, ServingEntry] = OrderedDict()

    def entry(self, db: sqlite_utils.Database) -> ServingEntry | None:
        """The entry for *db*'s file (created on first use), or None for :memory:."""
        path = db_file(db)
        if path is None or not str(path):
            return None
        key = str(path.resolve())
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                found = self._entries[key] = ServingEntry()
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(key)
            return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def suggestions(
        self,
        db: sqlite_utils.Database,
        n: int,
        *,
        rules: RerankSettings,
        now_ms: int,
        method: str | None = None,
        exclude: Iterable[int] = (),
    ):
        """The suggestions :func:`~player_plugin.recommend.service.suggestions` gives
        (without *after*), from the cached state brought up to date; None when *db* is
        not a file (the caller builds from scratch then)."""
        from player_plugin.recommend.service import DEFAULT_METHOD, SuggestionList, answer

        entry = self.entry(db)
        if entry is None:
            return None
        with entry.lock:
            state = self._refresh(entry, db, rules, now_ms, method)
            if len(state.catalogue) == 0 or n <= 0:
                return SuggestionList(method or DEFAULT_METHOD, None, [])
            return answer(
                db,
                state.rec,
                state.model_id,
                state.reranker,
                n,
                now=now_ms,
                cold=not state.plays,
                exclude=exclude,
            )

    # -- keeping the state up to date --------------------------------------------------
    def _refresh(
        self,
        entry: ServingEntry,
        db: sqlite_utils.Database,
        rules: RerankSettings,
        now: int,
        method: str | None,
    ) -> ServingState:
        with snapshot(db):
            cmark, mmark = catalogue_mark(db), models_mark(db)
            state = entry.state
            if state is not None and _settle_last(state, db, now):
                entry.reclassified += 1
            why = _stale(db, state, cmark, mmark, method, now)
            if why is None:
                assert state is not None
                new = serving_plays(
                    db,
                    state.catalogue,
                    now_ms=now,
                    after_id=state.last_id,
                    last_started=state.last_started,
                    session=state.session,
                )
                why = _cannot_append(state, new.plays)
                if why is None:
                    self._append(entry, state, db, new, now)
            if why is not None:
                engine = state.engine if state is not None and state.models_mark == mmark else None
                state = entry.state = _build(db, cmark, mmark, method, rules, now, engine)
                entry.rebuilds += 1
                entry.last_reason = why
                log.debug("serving state rebuilt (%s)", why)
        assert state is not None
        if state.rules != rules:  # the GUI's knobs changed: only the re-ranker refits
            state.rules = rules
            state.reranker = Reranker(state.catalogue, rules).fit(state.plays)
        return state

    @staticmethod
    def _append(
        entry: ServingEntry, state: ServingState, db: sqlite_utils.Database, new, now: int
    ) -> None:
        for play in new.plays:
            state.rec.observe(play)
            state.reranker.observe(play)
        state.plays.extend(new.plays)
        # open rows that ended the way they were served need no more watching
        still = open_outcomes(db, state.open_rows, now)
        state.open_rows = {pid: kind for pid, kind in state.open_rows.items() if still[pid][0]}
        state.open_rows.update(new.open_rows)
        state.last_id = new.last_id
        if new.plays:
            state.last_pid = new.last_pid
        state.last_started, state.session = new.last_started, new.session
        state.observed_mark = observed_mark(db, state.last_id)
        entry.updates += 1
        entry.observed += len(new.plays)


def _stale(
    db: sqlite_utils.Database,
    state: ServingState | None,
    cmark: tuple,
    mmark: tuple,
    method: str | None,
    now: int,
) -> str | None:
    """Why *state* cannot simply observe the new plays, or None when it can."""
    if state is None:
        return "first call"
    if state.method != method:
        return "another method"
    if state.catalogue_mark != cmark:
        return "the catalogue changed"
    if state.models_mark != mmark:
        return "the model registry changed"
    if observed_mark(db, state.last_id) != state.observed_mark:
        return "observed plays were deleted or rematched"
    outcomes = open_outcomes(db, state.open_rows, now)
    for pid, served in state.open_rows.items():
        if outcomes[pid][1] != served:
            return f"play {pid} was served as {served}, is now {outcomes[pid][1]}"
    return None


def _settle_last(state: ServingState, db: sqlite_utils.Database, now: int) -> bool:
    """The play in progress was served as a listen and has ended otherwise (the listener
    skipped it, the GUI's most common refresh): count it so in place — the recommender
    and the re-ranker then hold what observing it so would have given — instead of a
    rebuild. False when that is not the case or they cannot (``_stale`` rebuilds then)."""
    pid = state.last_pid
    if pid is None or state.open_rows.get(pid) is not Outcome.LISTENED or not state.plays:
        return False
    still_open, outcome = open_outcomes(db, [pid], now)[pid]
    if outcome is None or outcome is Outcome.LISTENED:
        return False
    play = replace(state.plays[-1], outcome=outcome, ms_played=played_ms(db, pid))
    fix = getattr(state.rec, "reclassify_last", None)
    if fix is None or not fix(play) or not state.reranker.reclassify_last(play):
        return False
    state.plays[-1] = play
    if still_open:
        state.open_rows[pid] = outcome
    else:
        del state.open_rows[pid]
    return True


def _cannot_append(state: ServingState, plays: list[Play]) -> str | None:
    if not plays:
        return None
    if not state.plays:
        return "the first plays (the method changes)"
    if getattr(state.rec, "name", "") not in INCREMENTAL:
        return f"{state.rec.name} does not learn incrementally"
    if plays[0].started_at < state.plays[-1].started_at:
        return "plays logged out of order (an import)"
    return None


def _build(
    db: sqlite_utils.Database,
    cmark: tuple,
    mmark: tuple,
    method: str | None,
    rules: RerankSettings,
    now: int,
    engine: object,
) -> ServingState:
    """A state built from scratch: what the uncached path computes."""
    from player_plugin.recommend.service import build_recommender

    catalogue = load_catalogue(db)
    loaded = serving_plays(db, catalogue, now_ms=now)
    rec, model_id = build_recommender(db, loaded.plays, catalogue, method, engine=engine)
    return ServingState(
        method=method,
        catalogue_mark=cmark,
        models_mark=mmark,
        catalogue=catalogue,
        rec=rec,
        model_id=model_id,
        rules=rules,
        reranker=Reranker(catalogue, rules).fit(loaded.plays),
        plays=list(loaded.plays),
        last_id=loaded.last_id,
        observed_mark=observed_mark(db, loaded.last_id),
        open_rows=dict(loaded.open_rows),
        last_pid=loaded.last_pid,
        last_started=loaded.last_started,
        session=loaded.session,
    )


CACHE = ServingCache()
