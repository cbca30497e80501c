"""What to play next: the one use case behind `segue recommend`, the dock, auto-play, hosts.

:func:`suggestions` is called by every face, so they all give the same list. It owns every
rule of what is never suggested: the listener's *never* and unexpired *not now*, the
excluded genres and folders (:class:`~player_plugin.app.settings.Settings`), the track
playing now and the queued ones (the caller passes them), and the re-ranker's own rules
(recent plays, repeated skips, the artist window, the familiar ↔ discover balance).

What serves: the active model when there is one (``model.load_active``), else the
strongest baseline (measured by `segue evaluate`, see benchmarks/results/evaluate_*.json);
with no plays at all, a cold-start pick that says so.

Serving keeps state: the GUI asks on every track change, and building from scratch (load
the catalogue and every play, load the model, replay the history) takes seconds on a large
library. :data:`CACHE` keeps, per database file, the catalogue, the fitted recommender (the
model's engine with its item-vector cache, or a baseline), the fitted re-ranker, the
exclusions resolved to items and the newest play row observed. Each call first asks the
store a few cheap questions (:mod:`player_plugin.store.serving`): did the catalogue change,
the model registry, the plays already observed (deleted, rematched), or the outcome of a
play observed while open (the play in progress ends as a skip)? Any of these, a method that
cannot learn incrementally, or plays logged out of order rebuilds the state exactly as the
uncached path does; otherwise only the new play rows are observed. The answers equal
``suggestions(..., cached=False)``: tests/test_serving.py checks that after every step.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import sqlite_utils

from player_plugin.app import warm
from player_plugin.app.never import Index, Never
from player_plugin.app.settings import Settings
from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.errors import SegueError
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play, PlayLog
from player_plugin.recommend.base import Recommender
from player_plugin.recommend.baselines import make_baseline
from player_plugin.recommend.engine import Engine
from player_plugin.recommend.explain import (
    album_next_reason,
    cold_reason,
    link_reason,
    session_artist_reason,
    track_reason,
)
from player_plugin.recommend.model import ModelRecommender, load_active
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.store.catalogue import load_catalogue, with_new_audio
from player_plugin.store.models import db_file
from player_plugin.store.serving import (
    OpenPlays,
    ServingPlays,
    catalogue_mark,
    features_rows,
    models_mark,
    observed_mark,
    played_ms,
    serving_plays,
    snapshot,
)

log = logging.getLogger(__name__)

DEFAULT_METHOD = "session-knn"  # the strongest baseline on both real histories
COLD_START_METHOD = "random-unplayed"
# no plays yet but a track to follow (`segue recommend --after`): tracks like it (its
# artist, album, genre, year, sound); the listening patterns have nothing to go on
ANCHORED_START_METHOD = "content"
START_METHODS = frozenset({COLD_START_METHOD, ANCHORED_START_METHOD})
# Methods whose fit is a replay of observe (and whose scores do not draw at random), so
# observing new plays gives the same state as fitting on all of them.
INCREMENTAL = frozenset(
    {"model", "session-knn", "item-knn", "most-played", "recent", "markov", "content"}
)
MAX_ENTRIES = 4  # database files kept (the GUI uses one)
CATALOGUE_CHANGED = "the catalogue changed"
SAVE_EVERY = 500  # plays observed since the state in the warm-start file: save it again

__all__ = [
    "CACHE",
    "Suggestion",
    "SuggestionList",
    "UnknownTrack",
    "build_recommender",
    "rules",
    "suggestions",
]


class UnknownTrack(SegueError, LookupError):
    """``after`` names a file that is not in the library (``subject``: its path)."""

    def __init__(self, path: bytes) -> None:
        super().__init__("not in the library (scan it first)", bytes(path))


@dataclass(frozen=True, slots=True)
class Suggestion:
    track_id: int
    path: bytes
    artist: str
    title: str
    score: float
    reason: str


@dataclass
class SuggestionList:
    method: str
    model_id: str | None
    items: list[Suggestion] = field(default_factory=list)


def suggestions(
    db: sqlite_utils.Database,
    n: int = 10,
    *,
    after: bytes | None = None,
    settings: Settings | None = None,
    playing: bytes | None = None,
    queued: Iterable[bytes] = (),
    exclude: Iterable[int] = (),
    now_ms: int | None = None,
    method: str | None = None,
    cached: bool = True,
) -> SuggestionList:
    """Up to *n* suggestions for the current session (the plays since the last 30-minute
    gap), or for a session of just the track at *after*. Never the track *playing*, one in
    *queued* (paths), one in *exclude* (track ids), nor what the rules above leave out.
    *settings* default to the stored ones. The play in progress counts as listened.

    With *cached* (the default) the fitted state is kept per database file between calls
    and only the plays logged since are observed; ``cached=False`` builds everything from
    the store, as a reference. An anchor (*after*) is never kept in the cached state."""
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    settings = Settings.load(db) if settings is None else settings
    if after is not None:  # the track a session of one follows is the one playing
        queued = [*queued, after]
    never = Never(settings, playing, queued, exclude, now)
    if cached and after is None:
        found = CACHE.suggestions(db, n, settings=settings, never=never, method=method)
        if found is not None:
            return found
    catalogue = load_catalogue(db)
    if len(catalogue) == 0 or n <= 0:
        return SuggestionList(method or DEFAULT_METHOD, None, [])
    plays = serving_plays(db, catalogue, now_ms=now).plays
    index = Index(catalogue)
    anchor: Play | None = None
    if after is not None:
        item = index.items_of_paths([after])
        if not item:
            raise UnknownTrack(after)
        start = max(now, plays[-1].started_at + SESSION_GAP_MS + 1) if plays else now
        anchor = Play(item[0], start, 0, Outcome.LISTENED, -1)
    rec, model_id = build_recommender(db, plays, catalogue, method, anchor=anchor is not None)
    reranker = Reranker(catalogue, rules(settings), follow=True).fit(plays)
    if anchor is not None:
        rec.observe(anchor)
        reranker.observe(anchor)
    cold = not plays and anchor is None
    hidden = never.items(db, index)
    follows = never.follows(index)
    return _answer(rec, model_id, reranker, n, now=now, cold=cold, hidden=hidden, follows=follows)


def rules(settings: Settings) -> RerankSettings:
    """The re-ranker's rules the settings set (its other knobs keep their defaults)."""
    return RerankSettings(
        exclude_last=int(settings.exclude_last),
        artist_window=int(settings.artist_window),
        dial=float(settings.variety),
    )


def build_recommender(
    db: sqlite_utils.Database,
    plays: Sequence[Play],
    catalogue: Catalogue,
    method: str | None,
    *,
    anchor: bool = False,
    engine: Engine | None = None,
    library: tuple | None = None,
) -> tuple[Recommender, str | None]:
    """The recommender that serves (the active model, else a baseline), fitted on *plays*,
    and the model id (None for a baseline). *library*, the catalogue mark the catalogue
    was read at, lets a model start warm (:mod:`player_plugin.app.warm`)."""
    rec: Recommender | None = None
    if method is None and plays:
        rec = _fitted_model(db, plays, catalogue, engine, library)
    if rec is not None:
        return rec, getattr(rec, "model_id", None)
    start = ANCHORED_START_METHOD if anchor else COLD_START_METHOD
    name = method or (DEFAULT_METHOD if plays else start)
    rec = make_baseline(name)
    rec.fit(plays, catalogue)
    return rec, None


def _fitted_model(
    db: sqlite_utils.Database,
    plays: Sequence[Play],
    catalogue: Catalogue,
    engine: Engine | None = None,
    library: tuple | None = None,
) -> Recommender | None:
    """The serving model fitted on *plays* (or None: the baselines serve). *engine*, when
    given, is the one already loaded for the same registry state (its vector cache kept).
    With *library* the item vectors come from the warm-start file when it matches, and are
    saved there (in the background) when they had to be computed."""
    try:
        rec = ModelRecommender(engine) if engine is not None else load_active(db, fit=False)
    except Exception as exc:  # a model must never stop suggestions
        log.warning("model not used: %s: %s", type(exc).__name__, exc)
        return None
    if rec is None:
        return None
    vectors = None if library is None else _saved_vectors(db, rec.engine, catalogue, library)
    try:
        rec.fit(plays, catalogue, vectors=vectors)
    except Exception as exc:
        log.warning("model %s not used: %s: %s", rec.model_id, type(exc).__name__, exc)
        return None
    if library is not None and vectors is None:
        warm.save_later(db, rec.engine, catalogue, library)
    return rec


def _saved_vectors(
    db: sqlite_utils.Database, engine: Engine, catalogue: Catalogue, library: tuple
) -> np.ndarray | None:
    """*catalogue*'s item vectors from the warm-start file when it was saved for this model
    and library version; None when they must be computed (and then saved, by the caller,
    with ``warm.save_later``)."""
    try:
        return warm.vectors_for(db, engine, catalogue, library)
    except Exception as exc:  # a warm start is an optimisation, never a failure
        log.warning("warm-start file not used: %s: %s", type(exc).__name__, exc)
        return None


def _answer(
    rec: Recommender,
    model_id: str | None,
    reranker: Reranker,
    n: int,
    *,
    now: int,
    cold: bool,
    hidden: set[int],
    follows: list[int] | None = None,
) -> SuggestionList:
    """Score, re-rank and explain: the list a fitted recommender and re-ranker give now,
    to play after *follows* (queued tracks) when not after the last play."""
    catalogue = reranker.catalogue
    scores = rec.scores()
    out = []
    follows = follows or []
    anchor = follows[-1] if follows else None
    session = functools.cache(lambda: rec.session)  # found once a list, when a reason asks
    for item in reranker.rerank(scores, n, hidden=hidden, now_ms=now, follows=follows):
        out.append(
            Suggestion(
                int(catalogue.track_ids[item]),
                catalogue.paths[item] if catalogue.paths else b"",
                catalogue.artist_names[catalogue.artist[item]],
                catalogue.titles[item],
                float(scores[item]),
                (
                    cold_reason(item, catalogue, anchor)
                    if cold
                    else _reason(rec, item, catalogue, now, anchor, session)
                ),
            )
        )
    return SuggestionList(getattr(rec, "name", "model"), model_id, out)


def _reason(
    rec: Recommender,
    item: int,
    catalogue: Catalogue,
    now: int,
    follows: int | None,
    current_session: Callable[[], list[Play]],
) -> str:
    # the track the list plays after: the queue's last, else the last play (the session's
    # last, without finding where the session starts: that walks back through its plays)
    history = rec.history
    before = follows if follows is not None else history[-1].item if history else None
    following = album_next_reason(item, before, catalogue)
    if following:  # the album playing (or queued last), continued: the re-ranker's order
        return following
    try:
        said = rec.explain(item)
    except Exception:  # an explanation must never stop a suggestion
        log.debug("explain failed for %s", rec.name, exc_info=True)
        said = None
    if said:
        return said
    started, listened = rec.track_plays(item)
    session = current_session()
    if session and not started.size:
        # a new track: what ties it to the one just played (album, artist, genre, tempo),
        # so that with little history new tracks do not all read "new to you"
        linked = link_reason(item, session[-1].item, catalogue)
        if linked:
            return f"new to you; {linked}"
    found = session_artist_reason(session, item, catalogue)
    if found:
        return found
    artist = int(catalogue.artist[item])
    known = rec.artist_listens(artist) if artist and not started.size else 0
    return track_reason(started, listened, item, catalogue, now, known)


# -- the serving state, kept per database file -------------------------------------------
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
    plays: PlayLog  # the history served, as the recommender's
    last_id: int  # the highest play row id read
    observed_mark: tuple
    index: Index
    open_rows: dict[int, Outcome] = field(default_factory=dict)  # open when observed: outcome
    last_pid: int | None = None  # the row id of plays[-1]
    last_started: int | None = None
    session: int = 0
    features_rows: int | None = None  # the analysis rows at catalogue_mark (None: unknown)

    @property
    def engine(self) -> Engine | None:
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
    new_audio: int = 0  # analyses taken in place (the same tracks, new audio descriptors)
    last_reason: str | None = None  # why the last rebuild happened
    warm: int = 0  # states taken from the warm-start file
    saved: int | None = None  # len(state.plays) when the state was saved (None: not yet)
    generation: int = 0  # moved by every suggestion (a save packing meanwhile is not kept)


class ServingCache:
    """Serving states by resolved database path (an in-memory database is not cached)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, ServingEntry] = OrderedDict()
        self._resolved: dict[str, str] = {}  # a database's path as SQLite names it → real

    def entry(self, db: sqlite_utils.Database) -> ServingEntry | None:
        """The entry for *db*'s file (created on first use), or None for :memory:."""
        path = db_file(db)
        if path is None or not str(path):
            return None
        key = self._resolved.get(str(path))
        if key is None:  # resolved once per path (it cost 0.08 ms on every dock call)
            key = self._resolved[str(path)] = str(path.resolve())
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
            self._resolved.clear()

    def suggestions(
        self,
        db: sqlite_utils.Database,
        n: int,
        *,
        settings: Settings,
        never: Never,
        method: str | None = None,
    ) -> SuggestionList | None:
        """What :func:`suggestions` gives (without *after*), from the cached state
        brought up to date; None when *db* is not a file (the caller builds then)."""
        entry = self.entry(db)
        if entry is None:
            return None
        with entry.lock:
            entry.generation += 1  # from here the state may change, caches and all
            state = self._refresh(entry, db, rules(settings), never.now, method)
            if len(state.catalogue) == 0 or n <= 0:
                return SuggestionList(method or DEFAULT_METHOD, None, [])
            hidden = never.items(db, state.index)
            return _answer(
                state.rec,
                state.model_id,
                state.reranker,
                n,
                now=never.now,
                cold=not state.plays,
                hidden=hidden,
                follows=never.follows(state.index),
            )

    def _refresh(
        self,
        entry: ServingEntry,
        db: sqlite_utils.Database,
        rules: RerankSettings,
        now: int,
        method: str | None,
    ) -> ServingState:
        engine = None
        with snapshot(db):
            reads = OpenPlays(db, now)  # what this snapshot reads of the open plays, once
            cmark, mmark = catalogue_mark(db), models_mark(db)
            if entry.state is None and method is None:
                entry.state, engine = _warm_state(db, cmark, mmark)
                if entry.state is not None:
                    entry.warm += 1
                    entry.saved = len(entry.state.plays)
            state = entry.state
            if state is not None and _settle_last(state, db, reads):
                entry.reclassified += 1
            why = _stale(db, state, cmark, mmark, method, reads)
            if why == CATALOGUE_CHANGED and _take_new_audio(entry, db, cmark, mmark):
                why = _stale(db, state, cmark, mmark, method, reads)  # the other checks
            if why is None:
                assert state is not None
                new = serving_plays(
                    db,
                    state.catalogue,
                    now_ms=now,
                    after_id=state.last_id,
                    last_started=state.last_started,
                    session=state.session,
                    reads=reads,
                )
                why = _cannot_append(state, new.plays)
                if why is None:
                    self._append(entry, state, db, new, reads)
            if why is not None:
                if state is not None and state.models_mark == mmark:
                    engine = state.engine
                kept = state if state is not None and state.catalogue_mark == cmark else None
                state = entry.state = _build(db, cmark, mmark, method, rules, now, engine, kept)
                entry.rebuilds += 1
                entry.saved = None
                entry.last_reason = why
                log.debug("serving state rebuilt (%s)", why)
        assert state is not None
        if state.rules != rules:  # the settings changed: only the re-ranker refits
            state.rules = rules
            state.reranker = Reranker(state.catalogue, rules, follow=True).fit(state.plays)
        saved = entry.saved
        if state.engine is not None and (saved is None or len(state.plays) - saved >= SAVE_EVERY):
            entry.saved = len(state.plays)  # a new state, or enough plays since: saved
            warm.save_state_later(
                db,
                entry.lock,
                functools.partial(_saved_fields, entry),
                lambda: entry.generation,
            )
        return state

    @staticmethod
    def _append(
        entry: ServingEntry,
        state: ServingState,
        db: sqlite_utils.Database,
        new: ServingPlays,
        reads: OpenPlays,
    ) -> None:
        for play in new.plays:
            state.rec.observe(play)
            state.reranker.observe(play)
        state.plays.extend(new.plays)
        # open rows that ended the way they were served need no more watching
        still = reads.outcomes(state.open_rows)
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
    reads: OpenPlays,
) -> str | None:
    """Why *state* cannot simply observe the new plays, or None when it can."""
    if state is None:
        return "first call"
    if state.method != method:
        return "another method"
    if state.catalogue_mark != cmark:
        return CATALOGUE_CHANGED
    if state.models_mark != mmark:
        return "the model registry changed"
    if observed_mark(db, state.last_id) != state.observed_mark:
        return "observed plays were deleted or rematched"
    outcomes = reads.outcomes(state.open_rows)
    for pid, served in state.open_rows.items():
        if outcomes[pid][1] != served:
            return f"play {pid} was served as {served}, is now {outcomes[pid][1]}"
    return None


def _take_new_audio(
    entry: ServingEntry, db: sqlite_utils.Database, cmark: tuple, mmark: tuple
) -> bool:
    """Only the audio analysis changed since the state's library version (no track added,
    removed, re-tagged, moved or flagged — a scan's writes move the newest
    ``last_scanned`` — and no analysis removed): read the audio again and hand it to the
    recommender (the model's item vectors of the analysed tracks recomputed) and the
    re-ranker in place — what a rebuild would hold, without reading every track and
    replaying every play, on each track change while a new library is analysed. False
    when that is not the case or the method's state reads the audio (content): the
    caller rebuilds."""
    state = entry.state
    if state is None or state.models_mark != mmark or state.catalogue_mark[1:4] != cmark[1:4]:
        return False
    # Rows added to or removed from tracks and features each move the change counter by
    # one; the analysis rows' count moves by +1 for each added, -1 for each removed. The
    # two moved alike only if no track came or went and no analysis was removed.
    before, now = state.catalogue_mark[0], cmark[0]
    if state.features_rows is None or before[0] != "changes" or now[0] != "changes":
        return False  # not known, or a store not migrated (the rows were counted)
    rows = features_rows(db)
    if now[1] - before[1] != rows - state.features_rows:
        return False
    catalogue = with_new_audio(db, state.catalogue)
    engine = state.engine
    vectors = None if engine is None else _saved_vectors(db, engine, catalogue, cmark)
    if not state.rec.take_audio(catalogue, vectors):
        return False
    if engine is not None and vectors is None:
        warm.save_later(db, engine, catalogue, cmark)
    state.catalogue = state.reranker.catalogue = catalogue
    state.catalogue_mark, state.features_rows = cmark, rows
    entry.saved = None  # the warm-start state is saved again for this library version
    entry.new_audio += 1
    return True


def _settle_last(state: ServingState, db: sqlite_utils.Database, reads: OpenPlays) -> bool:
    """The play in progress was served as a listen and has ended otherwise (the listener
    skipped it, the GUI's most common refresh): count it so in place — the recommender
    and the re-ranker then hold what observing it so would have given — instead of a
    rebuild. False when that is not the case or they cannot (``_stale`` rebuilds then)."""
    pid = state.last_pid
    if pid is None or state.open_rows.get(pid) is not Outcome.LISTENED or not state.plays:
        return False
    still_open, outcome = reads.outcomes([pid])[pid]
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


def _cannot_append(state: ServingState, plays: Sequence[Play]) -> str | None:
    if not plays:
        return None
    if not state.plays:
        return "the first plays (the method changes)"
    if getattr(state.rec, "name", "") not in INCREMENTAL:
        return f"{state.rec.name} does not learn incrementally"
    if plays[0].started_at < state.plays[-1].started_at:
        return "plays logged out of order (an import)"
    return None


def _warm_state(
    db: sqlite_utils.Database, cmark: tuple, mmark: tuple
) -> tuple[ServingState | None, Engine | None]:
    """The state saved in the warm-start file for the model that serves now, at this
    library version and registry (None when there is none), and that model's engine
    (None when no model serves), so that a rebuild does not load it again."""
    try:
        rec = load_active(db, fit=False)
    except Exception as exc:  # a model must never stop suggestions (the build says why)
        log.debug("no engine for a warm start: %s: %s", type(exc).__name__, exc)
        return None, None
    if rec is None:
        return None, None
    try:
        found = warm.state_for(db, rec.engine, cmark, mmark)
        if found is None:
            return None, rec.engine
        return ServingState(**found, index=Index(found["catalogue"])), rec.engine
    except Exception as exc:  # a warm start is an optimisation, never a failure
        log.warning("warm-start state not used: %s: %s", type(exc).__name__, exc)
        return None, rec.engine


def _saved_fields(entry: ServingEntry) -> dict | None:
    """What the warm-start file keeps of *entry*'s state (read under its lock)."""
    state = entry.state
    if state is None or state.engine is None or state.method is not None:
        return None
    return {f.name: getattr(state, f.name) for f in fields(ServingState)}


def _build(
    db: sqlite_utils.Database,
    cmark: tuple,
    mmark: tuple,
    method: str | None,
    rules: RerankSettings,
    now: int,
    engine: Engine | None,
    kept: ServingState | None = None,
) -> ServingState:
    """A state built from scratch: what the uncached path computes. *kept*, a state read at
    this library version, lends its catalogue and index (a catalogue is never written after
    it is made; reading 100,000 tracks again was two thirds of a rebuild)."""
    catalogue = load_catalogue(db) if kept is None else kept.catalogue
    loaded = serving_plays(db, catalogue, now_ms=now)
    rec, model_id = build_recommender(
        db, loaded.plays, catalogue, method, engine=engine, library=cmark
    )
    return ServingState(
        method=method,
        catalogue_mark=cmark,
        models_mark=mmark,
        catalogue=catalogue,
        rec=rec,
        model_id=model_id,
        rules=rules,
        reranker=Reranker(catalogue, rules, follow=True).fit(loaded.plays),
        plays=loaded.plays,  # a PlayLog of its own
        last_id=loaded.last_id,
        observed_mark=observed_mark(db, loaded.last_id),
        index=Index(catalogue) if kept is None else kept.index,
        open_rows=dict(loaded.open_rows),
        last_pid=loaded.last_pid,
        last_started=loaded.last_started,
        session=loaded.session,
        features_rows=features_rows(db),
    )


CACHE = ServingCache()
