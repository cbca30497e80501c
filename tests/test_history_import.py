"""Importing history: matching report, idempotence, ±60 s de-duplication across formats,
undo, refusing bad files with the database unchanged, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from player_plugin.domain.normalize import match_key
from player_plugin.library.history.importer import import_files, import_plays, undo_import
from player_plugin.library.history.readers import HistoryFormatError, HistoryPlay, Malformed

T0 = int(datetime(2024, 2, 10, 18, 0, tzinfo=UTC).timestamp() * 1000)
MIN = 60_000


def add_track(db, artist, title, album=None, *, duration_ms=240_000, mbid=None):
    path = f"/music/{artist}/{title}.flac".encode()
    cursor = db.execute(
        "INSERT INTO tracks (path, path_text, title, artist, album, duration_ms, "
        "mb_recording_id, match_key, first_seen, last_scanned) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
        [path, path.decode(), title, artist, album, duration_ms, mbid, match_key(artist, title)],
    )
    return cursor.lastrowid


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spotify_file(path: Path, plays: list[tuple[int, int, str, str, str]]) -> Path:
    """Extended streaming history rows: (start ms, ms played, artist, title, album)."""
    rows = [
        {
            "ts": iso(start + played),
            "ms_played": played,
            "master_metadata_track_name": title,
            "master_metadata_album_artist_name": artist,
            "master_metadata_album_album_name": album,
            "spotify_track_uri": "spotify:track:x",
            "episode_name": None,
            "spotify_episode_uri": None,
            "reason_start": "clickrow",
            "reason_end": "trackdone" if played > 60_000 else "fwdbtn",
            "shuffle": False,
            "skipped": played <= 60_000,
        }
        for start, played, artist, title, album in plays
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def lastfm_file(path: Path, plays: list[tuple[int, str, str, str]]) -> Path:
    """Last.fm uts export rows: (start ms, artist, title, album)."""
    lines = ["uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid"]
    for start, artist, title, album in plays:
        when = datetime.fromtimestamp(start / 1000, UTC).strftime("%d %b %Y, %H:%M")
        lines.append(f'{start // 1000},"{when}","{artist}",,"{album}",,"{title}",')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def play_rows(db) -> list[tuple]:
    return db.execute(
        "SELECT started_at, track_id, title, import_id FROM plays ORDER BY started_at, id"
    ).fetchall()


@pytest.fixture
def tracks(db):
    return {
        "teardrop": add_track(db, "Massive Attack", "Teardrop", "Mezzanine"),
        "roads": add_track(db, "Portishead", "Roads", "Dummy"),
    }


SPOTIFY = [
    (T0, 240_000, "Massive Attack", "Teardrop", "Mezzanine"),
    (T0 + 5 * MIN, 20_000, "Portishead", "Roads", "Dummy"),
    (T0 + 10 * MIN, 200_000, "Unknown Band", "Not In Library", "Nowhere"),
]


def test_import_matches_and_keeps_unmatched(db, tracks, tmp_path):
    report = import_files(db, [spotify_file(tmp_path / "s.json", SPOTIFY)])
    assert (report.read, report.matched, report.unmatched, report.malformed) == (3, 2, 1, 0)
    assert report.added == 3 and report.methods == {"exact": 2}
    assert report.format == "spotify-extended"
    rows = db.execute(
        "SELECT track_id, artist, title, album, ms_played, reason, skipped, source, "
        "match_method FROM plays ORDER BY started_at"
    ).fetchall()
    assert rows[0] == (
        tracks["teardrop"],
        "Massive Attack",
        "Teardrop",
        "Mezzanine",
        240_000,
        "completed",
        0,
        "import",
        "exact",
    )
    assert rows[1][4:7] == (20_000, "skipped", 1)
    assert rows[2][:4] == (None, "Unknown Band", "Not In Library", "Nowhere")
    imported = db.execute("SELECT format, read, added, matched FROM imports").fetchall()
    assert imported == [("spotify-extended", 3, 3, 2)]


def test_importing_the_same_file_twice_adds_nothing(db, tracks, tmp_path):
    path = spotify_file(tmp_path / "s.json", SPOTIFY)
    import_files(db, [path])
    before = play_rows(db)
    again = import_files(db, [path])
    assert (again.added, again.duplicates) == (0, 3)
    assert play_rows(db) == before


def test_the_same_plays_from_another_format_are_not_counted_twice(db, tracks, tmp_path):
    import_files(db, [spotify_file(tmp_path / "s.json", SPOTIFY)])
    # Last.fm scrobbled the same plays, a few seconds off, minute-rounded, other spellings
    lastfm = lastfm_file(
        tmp_path / "l.csv",
        [
            (T0 + 40_000, "Massive Attack", "Teardrop - 2018 Remaster", "Mezzanine"),
            (T0 + 10 * MIN - 55_000, "unknown band", "Not in Library", "Nowhere"),
            (T0 + 20 * MIN, "Massive Attack", "Teardrop", "Mezzanine"),  # a new play
            (T0 + 5 * MIN + 61_000, "Portishead", "Roads", "Dummy"),  # 61 s: another play
        ],
    )
    report = import_files(db, [lastfm])
    assert (report.duplicates, report.added) == (2, 2)
    assert len(play_rows(db)) == 5


def test_two_files_in_one_import_dedupe_each_other(db, tracks, tmp_path):
    spotify = spotify_file(tmp_path / "s.json", SPOTIFY[:1])
    lastfm = lastfm_file(tmp_path / "l.csv", [(T0 + 30_000, "Massive Attack", "Teardrop", "")])
    report = import_files(db, [spotify, lastfm])
    assert (report.read, report.added, report.duplicates) == (2, 1, 1)
    assert report.format == "lastfm-csv+spotify-extended"


def test_replays_within_one_file_are_separate_plays(db, tracks, tmp_path):
    # skipped after 10 s and started again: two plays 10 s apart, both real
    path = spotify_file(
        tmp_path / "s.json",
        [
            (T0, 10_000, "Portishead", "Roads", "Dummy"),
            (T0 + 10_000, 300_000, "Portishead", "Roads", "Dummy"),
        ],
    )
    assert import_files(db, [path]).added == 2


def test_undo_removes_exactly_the_plays_it_added(db, tracks, tmp_path):
    first = import_files(db, [spotify_file(tmp_path / "s.json", SPOTIFY)])
    second = import_files(
        db,
        [
            lastfm_file(
                tmp_path / "l.csv",
                [
                    (T0, "Massive Attack", "Teardrop", "Mezzanine"),  # known already
                    (T0 + 3 * 3600_000, "Portishead", "Roads", "Dummy"),
                ],
            )
        ],
    )
    assert second.added == 1
    assert undo_import(db, second.import_id) == 1
    assert [r[3] for r in play_rows(db)] == [first.import_id] * 3
    assert db.execute("SELECT count(*) FROM imports").fetchone()[0] == 1
    assert undo_import(db, first.import_id) == 3
    assert play_rows(db) == []
    with pytest.raises(LookupError):
        undo_import(db, first.import_id)


def test_a_malformed_file_is_refused_and_nothing_changes(db, tracks, tmp_path):
    good = spotify_file(tmp_path / "s.json", SPOTIFY)
    broken = tmp_path / "broken.json"
    broken.write_text(good.read_text()[:-40], encoding="utf-8")  # truncated
    with pytest.raises(HistoryFormatError, match=r"broken\.json"):
        import_files(db, [good, broken])
    assert play_rows(db) == []
    assert db.execute("SELECT count(*) FROM imports").fetchone()[0] == 0


def test_a_file_of_only_bad_rows_is_refused(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("artist,track,timestamp\nA,,1700000000\n,B,1700000000\n", encoding="utf-8")
    with pytest.raises(HistoryFormatError, match="no readable plays"):
        import_files(db, [path])


def test_malformed_rows_are_counted_reported_and_skipped(db, tracks, tmp_path):
    path = lastfm_file(tmp_path / "l.csv", [(T0, "Massive Attack", "Teardrop", "Mezzanine")])
    with path.open("a", encoding="utf-8") as handle:
        handle.write('notatime,"x",Portishead,,Dummy,,Roads,\n')
        handle.write('1707588000,"x",,,Dummy,,Roads,\n')
    report = import_files(db, [path])
    assert (report.read, report.added, report.malformed) == (3, 1, 2)
    assert report.malformed_rows[0].startswith("l.csv line 3: ")
    stored = json.loads(db.execute("SELECT report FROM imports").fetchone()[0])
    assert len(stored["malformed_rows"]) == 2


def test_sessions_split_at_thirty_minute_gaps(db, tracks, tmp_path):
    plays = [(T0 + m * MIN, 200_000, "Portishead", "Roads", "Dummy") for m in (0, 20, 45, 100)]
    import_files(db, [spotify_file(tmp_path / "s.json", plays)])
    sessions = [r[0] for r in db.execute("SELECT session FROM plays ORDER BY started_at")]
    assert sessions == [T0, T0, T0, T0 + 100 * MIN]
    # a play imported later into the gap joins the sessions on either side
    import_files(
        db, [lastfm_file(tmp_path / "l.csv", [(T0 + 75 * MIN, "Massive Attack", "Teardrop", "")])]
    )
    sessions = [r[0] for r in db.execute("SELECT session FROM plays ORDER BY started_at")]
    assert sessions == [T0] * 5


def test_import_plays_api_and_listeners(db, tracks):
    items = [
        HistoryPlay(started_at=T0, artist="Portishead", title="Roads", listener="u1"),
        HistoryPlay(started_at=T0, artist="Portishead", title="Roads", listener="u2"),
        Malformed("x line 3", "no artist"),
    ]
    report = import_plays(db, items, format="lastfm-1k", files=["x"])
    assert (report.read, report.added, report.malformed) == (3, 2, 1)  # two listeners, two plays


def test_cli_import_history_json_and_undo(segue, db, tracks, tmp_path):
    path = spotify_file(tmp_path / "s.json", SPOTIFY)
    result = segue("import-history", path, "--json")
    assert result.status == 0, result.err
    data = result.json
    assert {k: data[k] for k in ("read", "matched", "unmatched", "malformed")} == {
        "read": 3,
        "matched": 2,
        "unmatched": 1,
        "malformed": 0,
    }
    assert data["added"] == 3 and data["import_id"] >= 1
    text = segue("import-history", path)
    assert text.status == 0 and "0 plays added, 3 already known" in text.out
    undone = segue("import-history", "--undo", str(data["import_id"]), "--json")
    assert undone.status == 0 and undone.json["removed"] == 3


def test_an_unpacked_export_folder_imports_its_histories_and_passes_over_the_rest(
    segue, db, tracks, tmp_path
):
    """A folder (Spotify's unpacked ``my_spotify_data``, at any depth) imports the listening
    histories inside it as if each were named, in name order; its other files (the
    account's JSON, a PDF, a note) are passed over; a folder with no history is one line."""
    export = tmp_path / "my_spotify_data" / "Spotify Extended Streaming History"
    export.mkdir(parents=True)
    spotify_file(export / "Streaming_History_Audio_2024_1.json", SPOTIFY[1:])
    spotify_file(export / "Streaming_History_Audio_2024_0.json", SPOTIFY[:1])
    (export / "ReadMeFirst_ExtendedStreamingHistory.pdf").write_bytes(b"%PDF-1.4 not music")
    (tmp_path / "my_spotify_data" / "Userdata.json").write_text('{"username": "x"}')
    (tmp_path / "my_spotify_data" / "notes.txt").write_text("hello\n")
    result = segue("import-history", tmp_path / "my_spotify_data", "--json")
    assert result.status == 0, result.err
    assert (result.json["read"], result.json["matched"], result.json["added"]) == (3, 2, 3)
    files = json.loads(db.execute("SELECT files FROM imports").fetchone()[0])
    assert [Path(f).name for f in files] == [
        "Streaming_History_Audio_2024_0.json",
        "Streaming_History_Audio_2024_1.json",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello\n")
    refused = segue("import-history", empty)
    assert refused.status != 0 and refused.err.count("\n") == 1
    assert "no listening history in this folder" in refused.err


def test_cli_errors_are_one_line(segue, db, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n", encoding="utf-8")
    for args in (
        ("import-history", notes),
        ("import-history", tmp_path / "missing.json"),
        ("import-history", "--undo", "42"),
        ("import-history",),
    ):
        result = segue(*args)
        assert result.status != 0
        assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert db.execute("SELECT count(*) FROM imports").fetchone()[0] == 0


@pytest.mark.realdata
def test_shared_exports_import(db, shared_data):
    lastfm = import_files(db, [shared_data / "lastfm-2007-2019" / "scrobbles.csv"])
    assert lastfm.read == 42_752 and lastfm.malformed <= 5
    spotify = import_files(db, sorted((shared_data / "spotify-extended-2023-2026").glob("*.json")))
    assert spotify.read == 31_778 and 0 < spotify.not_music < 100 and spotify.malformed == 0
    assert lastfm.added + spotify.added == db.execute("SELECT count(*) FROM plays").fetchone()[0]
