"""The play log: start/end rows that survive a crash, sessions, counts by the listen rule,
pausing, deleting, `segue log-play`, and the ListenBrainz export that imports back whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from player_plugin.domain.normalize import match_key
from player_plugin.domain.paths import display
from player_plugin.library.history.importer import import_files
from player_plugin.store import open_db
from player_plugin.store.plays import (
    delete_plays,
    end_play,
    get_play,
    log_play,
    start_play,
    touch_play,
    track_stats,
)
from player_plugin.store.settings import (
    get_setting,
    logging_paused,
    set_logging_paused,
    set_setting,
)

T0 = int(datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)
MIN = 60_000


def add_track(db, artist, title, album=None, *, duration_ms=240_000, path=None, mbid=None):
    path = path or f"/music/{artist}/{title}.flac".encode()
    cursor = db.execute(
        "INSERT INTO tracks (path, path_text, title, artist, album, duration_ms, "
        "mb_recording_id, match_key, first_seen, last_scanned) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
        [
            path,
            display(path),
            title,
            artist,
            album,
            duration_ms,
            mbid,
            match_key(artist, title),
        ],
    )
    return cursor.lastrowid


@pytest.fixture
def track(db):
    return add_track(db, "Nick Drake", "Northern Sky", "Bryter Layter", duration_ms=227_000)


def test_a_play_is_written_at_start_and_completed_at_end(db, db_path, track):
    play_id = start_play(db, track, source="queue", at_ms=T0)
    touch_play(db, play_id, ms_played=30_000)
    # a crash now: another connection (a restart) still sees the play so far
    other = open_db(db_path)
    row = get_play(other, play_id)
    other.close()
    assert (row["track_id"], row["started_at"], row["ms_played"], row["reason"]) == (
        track,
        T0,
        30_000,
        None,
    )
    assert (row["source"], row["duration_ms"], row["title"]) == ("queue", 227_000, "Northern Sky")
    assert end_play(db, play_id, ms_played=200_000, at_ms=T0 + 200_000)
    row = get_play(db, play_id)
    assert (row["reason"], row["ms_played"], row["ended_at"]) == (
        "completed",
        200_000,
        T0 + 200_000,
    )
    assert not end_play(db, 9999, ms_played=1)


def test_end_reason_defaults_to_the_listen_rule(db, track):
    skipped = start_play(db, track, at_ms=T0)
    end_play(db, skipped, ms_played=20_000)
    stopped = start_play(db, track, at_ms=T0 + MIN)
    end_play(db, stopped, ms_played=20_000, reason="stopped")
    assert get_play(db, skipped)["reason"] == "skipped"
    assert get_play(db, stopped)["reason"] == "stopped"


def test_counts_are_queries_by_the_listen_rule(db, track):
    log_play(db, track, started_at=T0, ms_played=227_000)  # listened
    log_play(db, track, started_at=T0 + 5 * MIN, ms_played=60_000)  # skipped
    log_play(db, track, started_at=T0 + 6 * MIN, ms_played=2_000)  # browsing
    log_play(db, track, started_at=T0 + 7 * MIN, ms_played=150_000, reason="stopped")  # half
    log_play(db, track, started_at=T0 + 9 * MIN, ms_played=10_000, reason="error")
    assert track_stats(db, track) == {"plays": 2, "skips": 1, "last_played": T0 + 7 * MIN}
    assert track_stats(db, 12345) == {"plays": 0, "skips": 0, "last_played": None}


def test_sessions_follow_thirty_minute_gaps_even_out_of_order(db, track):
    ids = [log_play(db, track, started_at=T0 + m * MIN, ms_played=1000) for m in (0, 25, 70)]
    assert [get_play(db, i)["session"] for i in ids] == [T0, T0, T0 + 70 * MIN]
    bridge = log_play(db, track, started_at=T0 + 48 * MIN, ms_played=1000)  # fills the gap
    assert [get_play(db, i)["session"] for i in [*ids, bridge]] == [T0] * 4
    delete_plays(db, play_id=bridge)
    assert get_play(db, ids[2])["session"] == T0 + 70 * MIN


def test_pausing_logging_records_nothing(db, track):
    set_logging_paused(db, True)
    assert logging_paused(db)
    assert start_play(db, track) is None
    assert log_play(db, track, started_at=T0, ms_played=1) is None
    set_logging_paused(db, False)
    assert start_play(db, track) is not None
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 1


def test_settings_hold_json_values(db):
    assert get_setting(db, "missing", 7) == 7
    set_setting(db, "folders", ["/music", "/more"])
    set_setting(db, "folders", ["/music"])
    assert get_setting(db, "folders") == ["/music"]


def test_unknown_track_or_bad_values_are_refused(db, track):
    with pytest.raises(LookupError):
        start_play(db, 999)
    with pytest.raises(ValueError):
        start_play(db, track, source="radio")
    with pytest.raises(ValueError):
        log_play(db, track, started_at=T0, ms_played=1, reason="exploded")


def test_delete_one_a_range_or_all(db, track):
    ids = [log_play(db, track, started_at=T0 + h * 3_600_000, ms_played=1000) for h in range(5)]
    assert delete_plays(db, play_id=ids[0]) == 1
    assert delete_plays(db, start_ms=T0 + 3_600_000, end_ms=T0 + 3 * 3_600_000) == 2
    assert [r[0] for r in db.execute("SELECT id FROM plays ORDER BY id")] == ids[3:]
    db.execute("INSERT INTO imports (format, files, started_at) VALUES ('x', '[]', 0)")
    assert delete_plays(db, everything=True) == 2
    assert db.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
    with pytest.raises(ValueError):
        delete_plays(db)


def test_cli_log_play(segue, db, track, tmp_path):
    path = "/music/Nick Drake/Northern Sky.flac"
    result = segue(
        "log-play", path, "--played-ms", "30000", "--at", "2025-06-01T12:00:00Z", "--json"
    )
    assert result.status == 0, result.err
    data = result.json
    assert data["reason"] == "skipped" and data["outcome"] == "skipped"  # the rule's default
    assert data["source"] == "user" and data["started_at"] == "2025-06-01T12:00:00Z"
    result = segue("log-play", path, "--played-ms", "227000", "--source", "suggestion", "--json")
    assert result.json["reason"] == "completed" and result.json["source"] == "suggestion"
    assert track_stats(db, track)["plays"] == 1

    missing = segue("log-play", tmp_path / "nope.mp3", "--played-ms", "1000")
    assert missing.status != 0 and "not in the library" in missing.err
    assert missing.err.count("\n") == 1
    bad_time = segue("log-play", path, "--played-ms", "1", "--at", "noon")
    assert bad_time.status != 0 and "ISO 8601" in bad_time.err


def test_cli_log_play_non_utf8_path(segue, db):
    raw = b"/music/caf\xe9.flac"
    track = add_track(db, "Someone", "Caf\u00e9", path=raw)
    import base64

    result = segue(
        "log-play", "b64:" + base64.b64encode(raw).decode(), "--played-ms", "1000", "--json"
    )
    assert result.status == 0, result.err
    assert result.json["track_id"] == track and "path_b64" in result.json


def test_cli_pause_resume_delete_status(segue, db, track):
    assert segue("plays", "pause", "--json").json == {"paused": True}
    paused = segue("log-play", "/music/Nick Drake/Northern Sky.flac", "--played-ms", "1", "--json")
    assert paused.status == 0 and paused.json["play_id"] is None
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 0
    assert segue("plays", "resume", "--json").json == {"paused": False}
    for h in range(3):
        log_play(db, track, started_at=T0 + h * 3_600_000, ms_played=1000)
    assert segue("plays", "status", "--json").json["plays"] == 3
    assert segue("plays", "--json").json["plays"] == 3  # bare: the status
    deleted = segue(
        "plays",
        "delete",
        "--from",
        "2025-06-01T12:30:00Z",
        "--to",
        "2025-06-01T14:30:00Z",
        "--json",
    )
    assert deleted.json == {"deleted": 2}
    assert segue("plays", "delete", "--id", "999").status != 0
    assert segue("plays", "delete").status != 0  # needs a choice
    assert segue("plays", "delete", "--all", "--json").json == {"deleted": 1}


def test_export_imports_back_losslessly(segue, db, db_path, tmp_path):
    """Live plays, imported matched and unmatched plays → ListenBrainz JSON → a fresh store
    with the same library → the same history, field for field."""
    a = add_track(
        db,
        "Nick Drake",
        "Northern Sky",
        "Bryter Layter",
        mbid="11111111-2222-4333-8444-555555555555",
    )
    b = add_track(
        db, "Nick Drake", "Northern Sky", "Way to Blue", path=b"/music/wtb/ns.flac"
    )  # same song, other album
    c = add_track(db, "Nick Drake", "Pink Moon", "Pink Moon", path=b"/music/pink\xff.flac")
    log_play(db, a, started_at=T0 + 123, ms_played=227_000, source="suggestion")
    log_play(db, b, started_at=T0 + 5 * MIN + 7, ms_played=3_000, reason="skipped")
    open_play = start_play(db, c, at_ms=T0 + 10 * MIN)  # a crash mid-play: ended_at NULL
    touch_play(db, open_play, ms_played=4_000)
    history = tmp_path / "spotify.json"
    history.write_text(
        json.dumps(
            [
                {
                    "ts": "2025-06-02T10:00:00Z",
                    "ms_played": 50_000,
                    "master_metadata_track_name": "Nothing Here",
                    "master_metadata_album_artist_name": "Nobody",
                    "master_metadata_album_album_name": None,
                    "reason_end": "fwdbtn",
                    "skipped": True,
                    "shuffle": True,
                },
                {
                    "ts": "2025-06-02T10:10:00Z",
                    "ms_played": 200_000,
                    "master_metadata_track_name": "Pink Moon",
                    "master_metadata_album_artist_name": "Nick Drake",
                    "master_metadata_album_album_name": "Pink Moon",
                    "reason_end": "trackdone",
                    "skipped": False,
                    "shuffle": False,
                },
            ]
        ),
        encoding="utf-8",
    )
    import_files(db, [history])
    out = tmp_path / "export.json"
    result = segue("plays", "export", out, "--json")
    assert result.status == 0 and result.json["exported"] == 5
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported[0]["track_metadata"]["additional_info"]["recording_mbid"]

    columns = (
        "track_id, started_at, ended_at, ms_played, duration_ms, reason, source, session, "
        "shuffle, skipped, artist, title, album, mbid, match_key, listener"
    )
    before = db.execute(f"SELECT {columns} FROM plays ORDER BY started_at").fetchall()

    fresh = open_db(tmp_path / "fresh.db")
    for row in db.query("SELECT * FROM tracks ORDER BY id"):
        fresh["tracks"].insert(row)
    report = import_files(fresh, [out])
    assert (report.read, report.added, report.malformed) == (5, 5, 0)
    after = fresh.execute(f"SELECT {columns} FROM plays ORDER BY started_at").fetchall()
    assert after == before
    assert import_files(fresh, [out]).added == 0  # and it is idempotent too
