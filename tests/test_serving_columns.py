"""The served plays read as columns: the listen rule's array form answers as the rule does,
play by play, and ``serving_plays`` — a few rows one by one, many as columns — returns what
its row-at-a-time version before the columns returned (kept here as the reference) on a
real store with every kind of row."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from player_plugin.domain.listen import (
    BROWSE_MS,
    LISTEN_MIN_MS,
    NO_DURATION_LISTEN_MS,
    REASON_CODES,
    REASONS,
    SHORT_TRACK_MS,
    Outcome,
    classify,
    classify_columns,
)
from player_plugin.domain.play import SESSION_GAP_MS, Play, PlayLog
from player_plugin.store import serving
from player_plugin.store.catalogue import HistoryTrack, insert_history_tracks, load_catalogue
from player_plugin.store.serving import _COLUMNS, FEW_ROWS, _outcome, serving_plays
from player_plugin.store.tracks import set_missing

MIN = 60_000
EDGES = sorted(
    {0, 1, 499, 500, BROWSE_MS - 1, BROWSE_MS, SHORT_TRACK_MS - 501, SHORT_TRACK_MS - 500}
    | {SHORT_TRACK_MS, SHORT_TRACK_MS + 1, NO_DURATION_LISTEN_MS - 1, NO_DURATION_LISTEN_MS}
    | {2 * MIN - 1, 2 * MIN, LISTEN_MIN_MS - 1, LISTEN_MIN_MS, 4 * MIN + 1, 9 * MIN, 20 * MIN}
)


def test_the_array_form_answers_as_the_rule_play_by_play() -> None:
    durations = [-5, 0, *EDGES]
    rows = list(itertools.product(EDGES, durations, (None, *REASONS), (False, True)))
    ms, duration, reason, skipped = zip(*rows, strict=True)
    codes = [0 if r is None else REASON_CODES[r] for r in reason]
    got = classify_columns(np.array(ms), np.array(duration), np.array(codes), np.array(skipped))
    want = [classify(m, d if d > 0 else None, r, skipped=s) for m, d, r, s in rows]
    assert got.dtype == np.int8
    assert [Outcome(v) for v in got.tolist()] == want
    assert set(want) == set(Outcome)  # every outcome was asked for


def _row_at_a_time(db, catalogue, *, now_ms, after_id=0, last_started=None, session=0, live=None):
    """``serving_plays`` as it was before the columns (stop 40): the reference."""
    rows = db.execute(_COLUMNS + "WHERE p.id > ?", [int(after_id)]).fetchall()
    rows.sort(key=lambda r: (r[2], r[0]))
    index = {int(t): i for i, t in enumerate(catalogue.track_ids)}
    plays, open_rows, last_id, last_pid = [], {}, int(after_id), None
    for row in rows:
        pid, track, started, ended = row[0], row[1], int(row[2]), row[3]
        last_id = max(last_id, int(pid))
        item = -1 if track is None else index.get(int(track), -1)
        if item < 0:
            continue
        kind = _outcome(row, live)
        if last_started is not None and started - last_started > SESSION_GAP_MS:
            session += 1
        last_started = started
        plays.append(Play(item, started, int(row[4] or 0), kind, session))
        last_pid = int(pid)
        if ended is None and row[9] != "import":
            open_rows[int(pid)] = kind
    return plays, last_id, open_rows, last_pid, last_started, session


def _fields(out):
    return (
        list(out.plays),
        out.last_id,
        out.open_rows,
        out.last_pid,
        out.last_started,
        out.session,
    )


@pytest.fixture
def store(db):
    """Tracks with and without durations (one of 0 s, one missing: not in the catalogue),
    and 2,000 plays of every kind, their ids not in the order they started (some at the
    same moment)."""
    rng = random.Random(7)
    insert_history_tracks(
        db,
        (
            HistoryTrack(
                f"/m/{i}.flac".encode(),
                f"k{i}",
                f"A{i % 5}",
                f"T{i}",
                None,
                rng.choice([None, 20_000, 30_000, 200_000, 600_000]),
            )
            for i in range(30)
        ),
    )
    ids = [r[0] for r in db.execute("SELECT id FROM tracks ORDER BY id")]
    db.execute("UPDATE tracks SET duration_ms = 0 WHERE id = ?", [ids[1]])
    set_missing(db, [ids[2]], True)
    t, rows = 1_700_000_000_000, []
    for _ in range(2_000):
        t += rng.choice(
            [1_000, 3 * MIN, 5 * MIN, SESSION_GAP_MS, SESSION_GAP_MS + 1, 5 * 3_600_000]
        )
        start = t + rng.choice([0, 0, 0, -7 * MIN])  # some started before the one logged before
        if rows and rng.random() < 0.2:
            start = rows[-1][1]  # at the same moment: the row id decides
        ms = rng.choice(EDGES)
        reason = rng.choice([None, *REASONS])
        ended = None if rng.random() < 0.05 else start + ms
        rows.append(
            (
                rng.choice([None, *ids, ids[2]]),
                start,
                ended,
                ms,
                rng.choice([None, 0, -5, 20_000, 30_000, 200_000, 600_000]),
                reason,
                rng.choice(["user", "import", "suggestion"]),
                rng.choice([None, 0, 1]),
            )
        )
    db.conn.executemany(
        "INSERT INTO plays (track_id, started_at, ended_at, ms_played, duration_ms, reason, "
        "source, skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.conn.commit()
    return db


@pytest.mark.parametrize("few", [FEW_ROWS, 10**9, 1], ids=["as served", "one by one", "columns"])
def test_the_served_plays_are_those_read_a_row_at_a_time(store, monkeypatch, few) -> None:
    """As served (a few rows one by one, many as columns), and every read one way or the
    other: what the row-at-a-time code before the columns returned."""
    monkeypatch.setattr(serving, "FEW_ROWS", few)
    db = store
    catalogue = load_catalogue(db)
    ids = [r[0] for r in db.execute("SELECT id FROM plays ORDER BY id")]
    # the newest row left open, started just now: the play in progress, served as listened
    newest = db.execute("SELECT id FROM plays ORDER BY started_at DESC, id DESC").fetchone()[0]
    db.execute(
        "UPDATE plays SET ended_at = NULL, reason = NULL, source = 'user', ms_played = 1000, "
        "track_id = ? WHERE id = ?",
        [int(catalogue.track_ids[0]), newest],
    )
    now = db.execute("SELECT started_at FROM plays WHERE id = ?", [newest]).fetchone()[0] + 2_000
    whole = serving_plays(db, catalogue, now_ms=now)
    want = _row_at_a_time(db, catalogue, now_ms=now, live=newest)
    assert isinstance(whole.plays, PlayLog)
    assert _fields(whole) == want
    assert whole.plays[-1].outcome is Outcome.LISTENED and newest in whole.open_rows
    assert {p.outcome for p in whole.plays} == set(Outcome)
    assert len({p.session for p in whole.plays}) > 50 and whole.open_rows
    assert len(whole.plays) < len(ids)  # unmatched plays and the missing track's are left out
    # read on from a row: sessions numbered on from what was read before
    for after in (ids[700], ids[-1], 0, ids[-FEW_ROWS - 1], ids[-FEW_ROWS], ids[-5]):
        first = serving_plays(db, catalogue, now_ms=now + 10 * SESSION_GAP_MS)
        rest = serving_plays(
            db,
            catalogue,
            now_ms=now + 10 * SESSION_GAP_MS,
            after_id=after,
            last_started=first.plays[3].started_at,
            session=first.plays[3].session,
        )
        want = _row_at_a_time(
            db,
            catalogue,
            now_ms=0,
            after_id=after,
            last_started=first.plays[3].started_at,
            session=first.plays[3].session,
        )
        assert _fields(rest) == want


def test_no_plays_after_the_last_read(store) -> None:
    db = store
    catalogue = load_catalogue(db)
    last = db.execute("SELECT max(id) FROM plays").fetchone()[0]
    out = serving_plays(db, catalogue, now_ms=0, after_id=last, last_started=5, session=3)
    assert (len(out.plays), out.last_id, out.open_rows, out.last_pid) == (0, last, {}, None)
    assert (out.last_started, out.session) == (5, 3)
