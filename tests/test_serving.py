"""The serving cache: after every kind of store change, cached suggestions equal uncached ones.

Real stores (SQLite files), a real tiny model served by onnxruntime, real threads. Each step
of a scripted session changes the store the way the player, a scan, a privacy delete or the
model registry does, and the cached answer (ids, order, scores, reasons) must equal
``suggestions(..., cached=False)``; the counters show which steps observed incrementally.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from test_model_fixtures import fill_store, register_active, trained_model

from player_plugin.app import settings as app_settings
from player_plugin.app.settings import Settings
from player_plugin.app.suggest import CACHE, INCREMENTAL, suggestions
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS
from player_plugin.recommend import variety
from player_plugin.recommend.engine import Engine
from player_plugin.store import models as reg
from player_plugin.store import open_db
from player_plugin.store.catalogue import (
    HistoryTrack,
    insert_history_tracks,
    load_catalogue,
    load_plays,
)
from player_plugin.store.features import VECTOR_SIZE, AnalysisResult, save_results
from player_plugin.store.feedback import add_feedback
from player_plugin.store.plays import delete_plays, end_play, log_play, start_play, touch_play
from player_plugin.store.serving import serving_plays
from player_plugin.store.tracks import set_missing

MIN = 60_000
N = 8


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving-models")
    return trained_model(root), trained_model(root, n_plays=200)


def _same(db, now: int, **kw):
    """The cached answer, checked against the uncached one."""
    cached = suggestions(db, N, now_ms=now, **kw)
    fresh = suggestions(db, N, now_ms=now, cached=False, **kw)
    assert (cached.method, cached.model_id) == (fresh.method, fresh.model_id)
    assert [s.track_id for s in cached.items] == [s.track_id for s in fresh.items]
    np.testing.assert_allclose(
        [s.score for s in cached.items], [s.score for s in fresh.items], rtol=0, atol=1e-5
    )
    assert [s.reason for s in cached.items] == [s.reason for s in fresh.items]
    assert len(cached.items) == N
    return cached


def _served_with_a_model(db, model):
    """150 plays and *model* active, served once (checked): the track ids, the time just
    after, and the serving entry."""
    _cat, plays = fill_store(db, 150)
    register_active(db, model, "m1", 1)
    now = plays[-1].started_at + 5 * MIN
    _same(db, now)
    return _track_ids(db), now, CACHE.entry(db)


def _track_ids(db) -> list[int]:
    return [int(r[0]) for r in db.execute("SELECT id FROM tracks ORDER BY id")]


@pytest.mark.parametrize("with_model", [True, False], ids=["model", "baseline"])
def test_cached_equals_uncached_after_every_step(db, models, with_model) -> None:
    _cat, plays = fill_store(db, 200)
    if with_model:
        register_active(db, models[0], "m1", 1)
    ids = _track_ids(db)
    now = plays[-1].started_at + 5 * MIN
    entry = CACHE.entry(db)

    first = _same(db, now)
    assert first.method == ("model" if with_model else "session-knn")
    assert entry.rebuilds == 1

    # the GUI: a track starts, is touched, completes as a listen -- all incremental
    pid = start_play(db, ids[3], at_ms=now)
    _same(db, now + 1000)
    assert CACHE.entry(db).state.plays[-1].outcome is Outcome.LISTENED  # served as heard
    touch_play(db, pid, ms_played=30_000)
    _same(db, now + 30_000)
    end_play(db, pid, ms_played=200_000, reason="completed", at_ms=now + 200_000)
    now += 201_000
    _same(db, now)
    assert entry.rebuilds == 1 and entry.observed == 1

    # a track starts and is skipped: served as listened while playing; then the method
    # (the model or a baseline) and the re-ranker count the skip in place
    pid = start_play(db, ids[40], at_ms=now)
    _same(db, now + 1000)
    end_play(db, pid, ms_played=12_000, reason="skipped", at_ms=now + 12_000)
    now += 13_000
    _same(db, now)
    assert CACHE.entry(db).state.plays[-1].outcome is Outcome.SKIPPED
    assert (entry.rebuilds, entry.reclassified) == (1, 1)
    base = entry.rebuilds

    # a few plays logged at once (another player, a script): incremental
    for k in range(4):
        log_play(db, ids[20 + k], started_at=now, ms_played=200_000, reason="completed")
        now += 201_000
    _same(db, now)
    assert entry.rebuilds == base

    # a scan adds tracks, re-tags one (every scanner write sets last_scanned), flags one
    insert_history_tracks(
        db, [HistoryTrack(b"/music/new.flac", "new\x1fsong", "Artist 3", "New song", "Album 3")]
    )
    _same(db, now)
    assert entry.rebuilds == base + 1
    scanned = int(time.time() * 1000) + 1  # a scan stamps what it writes with the wall clock
    db["tracks"].update(
        ids[21], {"artist": "Artist 9", "album": "Album 9", "last_scanned": scanned}
    )
    _same(db, now)
    set_missing(db, [ids[22]], True)
    after_missing = _same(db, now)
    assert ids[22] not in [s.track_id for s in after_missing.items]
    assert entry.rebuilds == base + 3

    # privacy: delete an old play; delete the newest and let a new play reuse its id
    delete_plays(db, play_id=5)
    _same(db, now)
    assert entry.rebuilds == base + 4
    newest = int(db.execute("SELECT max(id) FROM plays").fetchone()[0])
    delete_plays(db, play_id=newest)
    reused = log_play(db, ids[50], started_at=now, ms_played=200_000, reason="completed")
    assert reused == newest
    now += 201_000
    _same(db, now)
    assert entry.rebuilds == base + 5

    if with_model:  # activate another model, then roll back to the first
        register_active(db, models[1], "m2", 2)
        assert _same(db, now).model_id == models[1].name
        reg.rollback(db)
        assert _same(db, now).model_id == models[0].name
        assert entry.rebuilds == base + 7

    # feedback and the GUI's knobs: no rebuild needed, same answers
    top = _same(db, now).items[0].track_id
    add_feedback(db, top, "never", at_ms=now)
    assert top not in [s.track_id for s in _same(db, now).items]
    app_settings.set_value(db, "artist_window", 0)
    app_settings.set_value(db, "exclude_last", 2)
    _same(db, now)
    _same(db, now, settings=Settings(variety=0.8))
    rebuilt = entry.rebuilds

    # an import of old plays (logged out of order): rebuilt
    log_play(db, ids[60], started_at=plays[0].started_at - MIN, ms_played=200_000)
    _same(db, now)
    assert entry.rebuilds == rebuilt + 1

    # an anchor (`after`) is never kept in the cached state
    path = bytes(db.execute("SELECT path FROM tracks WHERE id = ?", [ids[7]]).fetchone()[0])
    anchored = suggestions(db, N, now_ms=now, after=path)
    assert [s.track_id for s in anchored.items] != [s.track_id for s in _same(db, now).items]
    assert entry.rebuilds == rebuilt + 1


def test_the_play_in_progress_is_served_as_listened(tmp_path, models) -> None:
    stores = {}
    for name in ("playing", "completed"):
        (tmp_path / name).mkdir()
        db = stores[name] = open_db(tmp_path / name / "segue.db")
        _cat, plays = fill_store(db, 150)
        register_active(db, models[0], "m1", 1)
    now = plays[-1].started_at + 5 * MIN
    track = _track_ids(stores["playing"])[30]
    pid = start_play(stores["playing"], track, at_ms=now)
    touch_play(stores["playing"], pid, ms_played=2_000)  # "browsing" by its ms so far
    log_play(stores["completed"], track, started_at=now, ms_played=200_000, reason="completed")

    playing = _same(stores["playing"], now + 2_000)
    completed = _same(stores["completed"], now + 2_000)
    assert [s.track_id for s in playing.items] == [s.track_id for s in completed.items]
    np.testing.assert_allclose(
        [s.score for s in playing.items], [s.score for s in completed.items], atol=1e-5
    )
    # only for serving: training and evaluation still read it by the listen rule
    db = stores["playing"]
    assert load_plays(db, load_catalogue(db))[-1].outcome is Outcome.BROWSING
    assert serving_plays(db, load_catalogue(db), now_ms=now + 2_000).plays[-1].outcome is (
        Outcome.LISTENED
    )
    for db in stores.values():
        db.close()


def test_a_row_left_open_by_a_crash_is_not_in_progress(db) -> None:
    _cat, plays = fill_store(db, 120)
    start = plays[-1].started_at + 5 * MIN
    pid = start_play(db, _track_ids(db)[10], at_ms=start)
    touch_play(db, pid, ms_played=2_000)
    catalogue = load_catalogue(db)
    assert serving_plays(db, catalogue, now_ms=start + MIN).plays[-1].outcome is Outcome.LISTENED
    later = start + SESSION_GAP_MS + 3 * 3600_000  # hours later, nothing ended it
    assert serving_plays(db, catalogue, now_ms=later).plays[-1].outcome is Outcome.BROWSING
    _same(db, start + MIN)
    _same(db, later)  # the cached state notices that the row is no longer in progress
    assert CACHE.entry(db).state.plays[-1].outcome is Outcome.BROWSING


def test_two_threads_at_once_get_correct_answers(db_path, models) -> None:
    db = open_db(db_path)
    _cat, plays = fill_store(db, 200)
    register_active(db, models[0], "m1", 1)
    ids = _track_ids(db)
    now = plays[-1].started_at + 5 * MIN
    results: dict[tuple[int, int], list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(k: int, step: int, at: int) -> None:
        conn = open_db(db_path)  # one connection per thread, as the GUI's workers do
        try:
            barrier.wait()
            found = suggestions(conn, N, now_ms=at)
            results[(step, k)] = [s.track_id for s in found.items]
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            conn.close()

    for step in range(3):
        log_play(db, ids[step * 7], started_at=now, ms_played=200_000, reason="completed")
        now += 201_000
        threads = [threading.Thread(target=worker, args=(k, step, now)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        expected = [s.track_id for s in suggestions(db, N, now_ms=now, cached=False).items]
        assert results[(step, 0)] == results[(step, 1)] == expected
    entry = CACHE.entry(db)
    assert entry.rebuilds == 1 and entry.observed == 2
    db.close()


def test_appended_plays_are_observed_without_a_rebuild(db) -> None:
    _cat, plays = fill_store(db, 150)
    ids = _track_ids(db)
    now = plays[-1].started_at + 5 * MIN
    _same(db, now)
    entry = CACHE.entry(db)
    for k in range(5):
        pid = start_play(db, ids[k * 5], at_ms=now)
        end_play(db, pid, ms_played=200_000, reason="completed", at_ms=now + 200_000)
        now += 201_000
        suggestions(db, N, now_ms=now)
    assert (entry.rebuilds, entry.updates, entry.observed) == (1, 5, 5)
    _same(db, now)


def test_engine_cache_follows_retagged_tracks(db, models) -> None:
    fill_store(db, 50)
    engine = Engine(models[0])
    before = engine.item_vectors(load_catalogue(db))
    track = _track_ids(db)[40]  # item 40: Artist 7's album
    db["tracks"].update(track, {"artist": "Artist 1", "album": "Album 1"})
    retagged = load_catalogue(db)
    after = engine.item_vectors(retagged)
    np.testing.assert_array_equal(after, Engine(models[0]).item_vectors(retagged))
    assert not np.allclose(after[40], before[40])
    np.testing.assert_array_equal(np.delete(after, 40, 0), np.delete(before, 40, 0))


def test_no_cache_for_an_in_memory_store() -> None:
    db = open_db(":memory:")
    fill_store(db, 30)
    assert CACHE.entry(db) is None
    assert len(suggestions(db, 3, now_ms=1_800_000_000_000).items) == 3


def test_one_entry_per_database_file_whatever_the_path_it_was_opened_by(tmp_path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    first = open_db(real / "segue.db")
    second = open_db(tmp_path / "link" / "segue.db")
    other = open_db(tmp_path / "other.db")
    try:
        assert CACHE.entry(first) is CACHE.entry(second) is CACHE.entry(first)
        assert CACHE.entry(other) is not CACHE.entry(first)
    finally:
        for db in (first, second, other):
            db.close()


def test_a_skip_counted_in_place_equals_a_rebuild(db, models) -> None:
    """Skips, stops and browses of the play in progress, one after another, with the
    model: each is counted in place (no rebuild) and the answer equals the uncached one,
    also once more plays follow."""
    ids, now, entry = _served_with_a_model(db, models[0])
    endings = [(12_000, "skipped"), (2_000, "skipped"), (40_000, "stopped"), (200_000, None)]
    for k, (ms, reason) in enumerate(endings * 2):
        pid = start_play(db, ids[(k * 11) % 60], at_ms=now)
        _same(db, now + 1000)
        end_play(db, pid, ms_played=ms, reason=reason or "completed", at_ms=now + ms)
        now += ms + 1000
        _same(db, now)
    assert entry.rebuilds == 1 and entry.reclassified == 6


def _analyse(db, track_ids, seed: int) -> None:
    """What the audio analysis writes for *track_ids* (descriptor vectors drawn here)."""
    rng = np.random.default_rng(seed)
    save_results(
        db,
        [
            AnalysisResult(t, 1, 1, {}, rng.normal(size=VECTOR_SIZE).astype("<f4").tobytes())
            for t in track_ids
        ],
    )


@pytest.mark.parametrize("method", ["model", "session-knn", "content"])
def test_an_analysis_is_taken_in_place_as_a_rebuild_would(db, models, method) -> None:
    """While a library is analysed, each track change found the catalogue changed and
    rebuilt everything. Now new audio for the same tracks is read and handed over in place
    (the model's item vectors recomputed for them; content, whose state reads the audio,
    still rebuilds); the answers equal the uncached ones, also after plays follow; a
    re-tag among the analyses still rebuilds."""
    _cat, plays = fill_store(db, 150)
    kw = {} if method == "model" else {"method": method}
    if method == "model":
        register_active(db, models[0], "m1", 1)
    ids, now = _track_ids(db), plays[-1].started_at + 5 * MIN
    _same(db, now, **kw)
    entry = CACHE.entry(db)
    vectors = None if method != "model" else entry.state.rec.vectors.copy()
    in_place = method != "content"
    _analyse(db, ids[:20], seed=1)
    _same(db, now, **kw)
    assert (entry.rebuilds, entry.new_audio) == ((1, 1) if in_place else (2, 0))
    assert entry.state.catalogue.audio is not None
    if vectors is not None:  # the analysed tracks' vectors moved, the others did not
        moved = ~np.isclose(entry.state.rec.vectors, vectors).all(axis=1)
        assert moved[:20].all() and not moved[20:].any()
    pid = start_play(db, ids[3], at_ms=now)
    _same(db, now + 1000, **kw)
    end_play(db, pid, ms_played=9_000, reason="skipped", at_ms=now + 9_000)
    now += 10_000
    _same(db, now, **kw)
    _analyse(db, ids[10:40], seed=2)  # some analysed again, some for the first time
    _same(db, now, **kw)
    assert (entry.rebuilds, entry.new_audio) == ((1, 2) if in_place else (3, 0))
    # a track nobody played replaced under its id and scan time (another process), while
    # tracks are analysed: the counter and the analysis rows moved apart: rebuilt
    victim, scanned = db.execute(
        "SELECT id, last_scanned FROM tracks WHERE id NOT IN "
        "(SELECT track_id FROM plays WHERE track_id IS NOT NULL) ORDER BY id LIMIT 1"
    ).fetchone()
    with db.atomic():
        db.execute("DELETE FROM tracks WHERE id = ?", [victim])
        db.execute(
            "INSERT INTO tracks (id, path, path_text, title, artist, first_seen, last_scanned) "
            "VALUES (?, x'2f7265706c61636564', '/replaced', 'Replaced', 'Someone', 0, ?)",
            [victim, scanned],
        )
    _analyse(db, ids[45:50], seed=4)
    _same(db, now, **kw)
    assert entry.rebuilds == (2 if in_place else 4) and entry.new_audio == (2 if in_place else 0)
    state = entry.state
    assert state.catalogue.titles[list(state.catalogue.track_ids).index(victim)] == "Replaced"
    # a re-tag among the analyses (every scanner write moves last_scanned): rebuilt
    scanned = int(time.time() * 1000) + 1
    db["tracks"].update(ids[5], {"artist": "Artist 9", "last_scanned": scanned})
    _analyse(db, ids[40:45], seed=3)
    _same(db, now, **kw)
    assert entry.rebuilds == (3 if in_place else 5) and entry.new_audio == (2 if in_place else 0)
    _analyse(db, ids[50:55], seed=5)  # and in place again after a rebuild
    _same(db, now, **kw)
    assert entry.rebuilds == (3 if in_place else 6) and entry.new_audio == (3 if in_place else 0)


@pytest.mark.parametrize("method", sorted(INCREMENTAL - {"model"}))
def test_a_baseline_counts_a_skip_in_place_as_a_rebuild_would(db, method) -> None:
    """Without a model (a new listener), each baseline that learns play by play counts
    the skips, stops and browses of the play in progress in place: before, every skip
    rebuilt the whole state (≈ 1 s at 100,000 tracks and 20,000 plays, more with more
    plays). The answers equal the uncached ones (``_same``) at every step."""
    _cat, plays = fill_store(db, 150)
    ids, now = _track_ids(db), plays[-1].started_at + 5 * MIN
    _same(db, now, method=method)
    entry = CACHE.entry(db)
    endings = [(12_000, "skipped"), (40_000, "stopped"), (1_000, "skipped"), (200_000, None)]
    for k, (ms, reason) in enumerate(endings * 2):
        pid = start_play(db, ids[(k * 7) % 60], at_ms=now)
        _same(db, now + 1000, method=method)
        end_play(db, pid, ms_played=ms, reason=reason or "completed", at_ms=now + ms)
        now += ms + 1000
        _same(db, now, method=method)
    assert entry.rebuilds == 1 and entry.reclassified == 6


def test_the_listeners_variety_follows_new_plays_as_a_rebuild_learns_it(
    db, models, monkeypatch
) -> None:
    """The re-ranker's variety is learned over the newest plays; the cached state keeps
    it up to date as plays arrive (a rebuild learns it afresh). Window shrunk to 40 plays
    so that a few dozen plays of another habit (one artist over and over, with skips)
    move it; the answers stay equal at every step, all observed in place."""
    monkeypatch.setattr(variety, "WINDOW", 40)
    monkeypatch.setattr(variety, "MIN_LISTENS", 10)
    ids, now, entry = _served_with_a_model(db, models[0])
    assert entry.state is not None and entry.state.reranker.variety is not None
    before = entry.state.reranker.profile
    for k in range(30):  # the same artist's few tracks, every fourth skipped
        pid = start_play(db, ids[40 + k % 3], at_ms=now)
        ms, reason = (15_000, "skipped") if k % 4 == 3 else (200_000, "completed")
        end_play(db, pid, ms_played=ms, reason=reason, at_ms=now + ms)
        now += ms + 1000
        _same(db, now)
    assert entry.state.reranker.profile != before
    assert entry.rebuilds == 1


def test_a_refresh_reads_the_open_plays_once(db, models) -> None:
    """A track change (the last play ended as a skip, the next started) asks the store
    about the play in progress once and about the open rows at most once, however many
    steps of the refresh need them (it asked four and three times); the answers stay those
    of a rebuild (``_same``)."""
    ids, now, entry = _served_with_a_model(db, models[0])
    statements: list[str] = []
    pid = start_play(db, ids[3], at_ms=now)
    _same(db, now + 1000)
    for k in range(4):
        end_play(db, pid, ms_played=9_000, reason="skipped", at_ms=now + 9_000)
        now += 10_000
        pid = start_play(db, ids[5 + k], at_ms=now)
        db.conn.set_trace_callback(statements.append)
        try:
            suggestions(db, N, now_ms=now + 1000)
        finally:
            db.conn.set_trace_callback(None)
        in_progress = [s for s in statements if "ORDER BY started_at DESC, id DESC LIMIT 1" in s]
        open_rows = [s for s in statements if "WHERE p.id IN (" in s]
        assert len(in_progress) == 1, statements
        assert len(open_rows) <= 1, statements
        statements.clear()
        _same(db, now + 1000)
    assert entry.rebuilds == 1 and entry.reclassified == 4
