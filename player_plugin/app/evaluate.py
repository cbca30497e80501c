"""``segue evaluate``: the offline evaluation of the model and the baselines on history files.

Per listener, a throw-away store is built from the history as a user would have it: each
distinct song (normalised artist + title) becomes a track with a synthetic path and what
the history says about it, and the plays go in through the importer users run
(``import_plays``), so they all match exactly; distractors add another history's songs as
tracks never played. Then the protocol of :mod:`player_plugin.recommend.evaluate` (the
chronological split, every method ranking the catalogue before each listened test play)
runs the baselines and the model, trained up to the split by
:func:`player_plugin.app.retrain.fit_model` (the trainer process, served through its ONNX
export exactly as serving runs it). The figures are :mod:`player_plugin.recommend.metrics`'.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from player_plugin.app.retrain import fit_model
from player_plugin.domain.listen import Outcome
from player_plugin.domain.normalize import match_key
from player_plugin.library.history.importer import import_plays
from player_plugin.library.history.readers import ReadStats, read_history
from player_plugin.library.history.records import HistoryPlay, Malformed
from player_plugin.recommend.base import Recommender
from player_plugin.recommend.baselines import baseline_names, make_baseline
from player_plugin.recommend.evaluate import (
    MIN_PLAYS,
    SEED,
    EvalOptions,
    ListenerResult,
    average_logs,
    dial_row,
    run_protocol,
    seeded_names,
    split_index,
    to_json,
)
from player_plugin.recommend.metrics import summarise
from player_plugin.recommend.variety import DIAL_POSITIONS, MIDDLE
from player_plugin.store.catalogue import (
    HistoryTrack,
    insert_history_tracks,
    load_catalogue,
    load_plays,
)
from player_plugin.store.db import open_db

log = logging.getLogger(__name__)

__all__ = ["EvalOptions", "build_store", "evaluate_files", "read_listeners"]


# -- a history as a throw-away store ------------------------------------------------------

PATH_PREFIX = b"history:"


@dataclass
class History:
    """The plays of a set of files, by listener (None: a single-listener export)."""

    listeners: dict[str | None, list[HistoryPlay]]
    malformed: int
    formats: dict[str, str]


def read_listeners(paths: Sequence[str | os.PathLike], fmt: str = "auto") -> History:
    """Read history files with the importers' readers and group the plays by listener."""
    stats = ReadStats()
    by_listener: dict[str | None, list[HistoryPlay]] = defaultdict(list)
    malformed = 0
    for record in read_history(list(paths), fmt, stats):
        if isinstance(record, Malformed):
            malformed += 1
            continue
        by_listener[record.listener].append(record)
    for plays in by_listener.values():
        plays.sort(key=lambda p: p.started_at)
    return History(dict(by_listener), malformed, dict(stats.formats))


def _track_path(key: str) -> bytes:
    return PATH_PREFIX + key.replace("\x1f", " - ").encode("utf-8", "surrogateescape")


def history_tracks(plays: Iterable[HistoryPlay]) -> list[HistoryTrack]:
    """One track per normalised artist + title, with the commonest spelling, album and
    duration the history gives it. Plays without a title make no track."""
    spelling: dict[str, Counter] = defaultdict(Counter)
    albums: dict[str, Counter] = defaultdict(Counter)
    durations: dict[str, Counter] = defaultdict(Counter)
    for play in plays:
        key = match_key(play.artist, play.title)
        if key.endswith("\x1f"):
            continue
        spelling[key][(play.artist, play.title)] += 1
        if play.album:
            albums[key][play.album] += 1
        if play.duration_ms:
            durations[key][int(play.duration_ms)] += 1
    tracks = []
    for key, names in spelling.items():
        artist, title = names.most_common(1)[0][0]
        album = albums[key].most_common(1)[0][0] if albums[key] else None
        duration = durations[key].most_common(1)[0][0] if durations[key] else None
        tracks.append(HistoryTrack(_track_path(key), key, artist, title, album, duration))
    return tracks


def build_store(
    db_path: str | os.PathLike,
    plays: Sequence[HistoryPlay],
    *,
    fmt: str,
    files: Sequence[str | os.PathLike] = (),
    distractors: Sequence[HistoryPlay] = (),
) -> sqlite_utils.Database:
    """A fresh store at *db_path* holding the listener's catalogue (plus distractor
    tracks) and their plays, imported with ``import_plays``. Returns the open database."""
    Path(db_path).unlink(missing_ok=True)
    db = open_db(db_path)
    tracks = history_tracks(plays)
    known = {t.match_key for t in tracks}
    extra = [t for t in history_tracks(distractors) if t.match_key not in known]
    insert_history_tracks(db, tracks + extra)
    report = import_plays(db, plays, format=fmt, files=[str(f) for f in files])
    log.info(
        "evaluation store: %d tracks (%d distractors), %d plays added, %d unmatched",
        len(tracks) + len(extra),
        len(extra),
        report.added,
        report.unmatched,
    )
    return db


# -- the evaluation -------------------------------------------------------------------------


def evaluate_listener(
    db_path: str | os.PathLike,
    history: Sequence,
    *,
    fmt: str,
    files: Sequence[str],
    options: EvalOptions,
    listener: str | None = None,
) -> ListenerResult | None:
    """Build the listener's store, split, fit and score every method."""
    started = time.perf_counter()
    db = build_store(db_path, history, fmt=fmt, files=files, distractors=options.distractors)
    try:
        catalogue = load_catalogue(db, audio=False)
        plays = load_plays(db, catalogue)
    finally:
        db.close()
    if options.validation:
        plays = plays[: split_index(plays)]
    if len(plays) < MIN_PLAYS:
        log.info("listener %s: only %d plays, left out", listener, len(plays))
        return None
    split = split_index(plays)
    played_ids = {p.item for p in plays}
    names = options.methods or baseline_names()
    recommenders: dict[str, Recommender] = {name: make_baseline(name) for name in names}
    fitted: list[str] = []
    trainer = fit_model if options.model else None
    if trainer is not None:
        cutoff = plays[split].started_at if split < len(plays) else None
        variants = [("model", False)]
        if any(p.outcome is Outcome.SKIPPED for p in plays[:split]):
            variants.append(("model-skip-blind", True))
        for variant, blind in variants:
            for name, seed in seeded_names(variant, options.seeds):
                _say(options, f"training {name} on {split} plays")
                extra = None if seed == SEED else ["--seed", str(seed)]
                try:
                    model = trainer(db_path, cutoff, skip_blind=blind, extra=extra)
                    model.fit(plays[:split], catalogue)
                except Exception as exc:  # a failed model is reported, the rest still run
                    log.warning("%s left out: %s", name, exc)
                    continue
                recommenders[name] = model
                fitted.append(name)
    reranked = [name for name in options.reranked if name in recommenders]
    # each further seed of the model is re-ranked too (the default dial, and the discover
    # end with --dial), so that what the listener hears is averaged over the seeds as well
    seed_rows = {
        name: [1.0] if options.dial else []
        for name, _ in seeded_names("model", options.seeds)[1:]
        if "model" in reranked and name in recommenders
    }
    reranked += list(seed_rows)
    _say(
        options,
        f"listener {listener or '-'}: {len(plays)} plays, scoring {len(recommenders)} methods",
    )
    dials = [d for d in DIAL_POSITIONS if d != MIDDLE] if options.dial else []
    logs = run_protocol(
        plays,
        catalogue,
        split,
        recommenders,
        reranked,
        fitted=fitted,
        dials=dials,
        dials_of=seed_rows,
    )
    if trainer is not None and options.seeds > 1:
        for variant, _blind in variants:
            names = [name for name, _ in seeded_names(variant, options.seeds)]
            for row in (str, reranked_row, discover_row):  # raw, re-ranked, discover end
                runs = [logs.methods[row(name)] for name in names if row(name) in logs.methods]
                if len(runs) == len(names):  # a left-out seed would bias the average
                    logs.methods[row(f"{variant}-seeds")] = average_logs(runs)
    return ListenerResult(
        listener,
        len(plays),
        len(catalogue),
        len(catalogue) - len(played_ids),
        logs,
        time.perf_counter() - started,
    )


def reranked_row(name: str) -> str:
    return f"{name}-reranked"


def discover_row(name: str) -> str:
    return dial_row(name, 1.0)


def _say(options: EvalOptions, message: str) -> None:
    log.info(message)
    if options.progress is not None:
        options.progress(message)


def evaluate_files(
    paths: Sequence[str | os.PathLike],
    fmt: str = "auto",
    *,
    options: EvalOptions | None = None,
    distractor_paths: Sequence[str | os.PathLike] = (),
    workdir: str | os.PathLike | None = None,
) -> dict:
    """Evaluate on history files; the result is the ``--json`` object of DESIGN.md."""
    options = options or EvalOptions()
    started = time.perf_counter()
    history = read_listeners(paths, fmt)
    if distractor_paths:
        other = read_listeners(distractor_paths, "auto")
        options.distractors = [p for plays in other.listeners.values() for p in plays]
    fmt_name = "+".join(sorted(set(history.formats.values()))) or fmt
    listeners = sorted(history.listeners.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    if options.max_listeners is not None:
        listeners = listeners[: options.max_listeners]
    results: list[ListenerResult] = []
    with tempfile.TemporaryDirectory(prefix="segue-evaluate-", dir=workdir) as tmp:
        for number, (listener, plays) in enumerate(listeners):
            db_path = Path(tmp) / f"listener-{number}.db"
            result = evaluate_listener(
                db_path,
                plays,
                fmt=fmt_name,
                files=[str(p) for p in paths],
                options=options,
                listener=listener,
            )
            if result is not None:
                results.append(result)
            for suffix in ("", "-wal", "-shm"):  # many listeners must not fill the disk
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    left_out = len(listeners) - len(results)
    if left_out:
        log.warning("%d listener(s) with fewer than %d plays left out", left_out, MIN_PLAYS)
    summary = summarise([r.log for r in results], bootstrap=options.bootstrap)
    out = to_json(results, summary, seconds=time.perf_counter() - started, options=options)
    out["left_out_listeners"] = left_out
    out["malformed"] = history.malformed
    return out
