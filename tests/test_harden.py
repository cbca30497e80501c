"""Hardening (issue 14): concurrent writers, absurd numbers, confined model paths, private
files, database errors as one line. Each test reproduces a failure that was seen."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_history_import import T0, add_track, lastfm_file, spotify_file
from test_model_fixtures import trained_model

from player_plugin.cli import main as cli_main
from player_plugin.cli.common import (
    EXIT_BUSY,
    EXIT_DATA,
    EXIT_DENIED,
    EXIT_IO,
    EXIT_NOINPUT,
    failure,
)
from player_plugin.domain import validate
from player_plugin.library.history.importer import import_files
from player_plugin.library.history.matching import Matcher
from player_plugin.recommend.engine import Engine, ModelError
from player_plugin.store import models as reg
from player_plugin.store import open_db

ROOT = Path(__file__).resolve().parents[1]
MIN = 60_000
CLI = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"


def segue_process(db_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "--db", str(db_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def hold_write_lock(db_path: Path, seconds: float) -> threading.Thread:
    """Another connection holds the write lock for *seconds* (started before returning)."""
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(str(db_path), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO settings (key, value) VALUES ('lock-holder', '1')")
        ready.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(5)
    return thread


def one_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("segue: "), err
    assert "Traceback" not in err


# -- 1, 2, 9: read-then-write in one immediate transaction -------------------------------------


def test_two_imports_of_one_file_at_once_add_each_play_once(db, db_path, tmp_path):
    add_track(db, "Portishead", "Roads", "Dummy")
    plays = [(T0 + i * 5 * MIN, 200_000, "Portishead", "Roads", "Dummy") for i in range(3000)]
    path = spotify_file(tmp_path / "s.json", plays)
    procs = [segue_process(db_path, "--json", "import-history", str(path)) for _ in range(2)]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    results = [(status, out, err) for out, err, status in results]
    for status, _out, err in results:
        assert status == 0, err
    added = [json.loads(out)["added"] for _s, out, _e in results]
    assert sorted(added) == [0, 3000]
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 3000


@pytest.mark.parametrize(
    "args", [("plays", "delete", "--all"), ("import-history", "--undo", "1")], ids=str
)
def test_delete_and_undo_wait_for_a_writer_instead_of_failing_locked(db, db_path, tmp_path, args):
    add_track(db, "Portishead", "Roads", "Dummy")
    import_files(
        db, [spotify_file(tmp_path / "s.json", [(T0, 200_000, "Portishead", "Roads", "")])]
    )
    holder = hold_write_lock(db_path, 3.0)
    proc = segue_process(db_path, *args)
    _out, err = proc.communicate(timeout=60)
    holder.join()
    assert proc.returncode == 0, err
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 0


def test_an_import_matches_tracks_a_scan_committed_while_it_was_matching(db, db_path, tmp_path):
    stale = Matcher(db)  # matched before the scan below commits its track
    other = open_db(db_path)
    add_track(other, "Portishead", "Roads", "Dummy")
    other.close()
    path = lastfm_file(tmp_path / "l.csv", [(T0, "Portishead", "Roads", "Dummy")])
    report = import_files(db, [path], matcher=stale)
    assert (report.matched, report.unmatched) == (1, 0)
    assert db.execute("SELECT count(*) FROM plays WHERE track_id IS NULL").fetchone()[0] == 0


def test_rematch_reads_unmatched_plays_inside_its_write_transaction(db):
    """rematch_unmatched takes the write lock before it reads (else an import committing
    between its read and its write is passed over)."""
    db.execute("INSERT INTO plays (started_at, title, artist, source) VALUES (?, ?, ?, ?)",
               [T0, "Roads", "Portishead", "import"])  # fmt: skip
    add_track(db, "Portishead", "Roads", "Dummy")
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    from player_plugin.library.history.matching import rematch_unmatched

    assert rematch_unmatched(db) == 1
    db.conn.set_trace_callback(None)
    begin = next(i for i, s in enumerate(statements) if s.startswith("BEGIN"))
    assert statements[begin] == "BEGIN IMMEDIATE"
    read = next(i for i, s in enumerate(statements) if "track_id IS NULL AND title" in s
                and s.lstrip().startswith("SELECT id"))  # fmt: skip
    assert read > begin


# -- 3: database errors are one line and an exit code -----------------------------------------


def test_log_play_waits_out_a_lock_held_longer_than_the_busy_timeout(segue, db, db_path):
    add_track(db, "Portishead", "Roads", "Dummy")
    holder = hold_write_lock(db_path, 11.5)  # longer than the 10 s busy timeout
    result = segue("log-play", "/music/Portishead/Roads.flac", "--played-ms", "1000")
    holder.join()
    assert result.status == 0, result.err
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 1


def test_log_play_gives_up_after_its_wait_with_one_line(segue, db, db_path):
    add_track(db, "Portishead", "Roads", "Dummy")
    holder = hold_write_lock(db_path, 11.5)
    result = segue("log-play", "/music/Portishead/Roads.flac", "--played-ms", "1", "--wait", "0")
    holder.join()
    assert result.status == EXIT_BUSY
    one_line(result.err)


def test_real_sqlite_errors_map_to_one_line_and_a_status(db_path, tmp_path):
    db = open_db(db_path)
    db.close()
    readonly = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as caught:
        readonly.execute("INSERT INTO settings (key, value) VALUES ('x', '1')")
    assert failure(caught.value)[1] == EXIT_DENIED
    full = sqlite3.connect(str(db_path))
    pages = full.execute("PRAGMA page_count").fetchone()[0]
    full.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.Error) as caught:
        full.execute("INSERT INTO settings (key, value) VALUES ('big', ?)", ["x" * 200_000])
    line, status = failure(caught.value)
    assert status == EXIT_IO and "full" in line


@pytest.mark.parametrize(
    "content", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_damaged_database_is_one_line(segue, db_path, content):  # fmt: skip
    db_path.write_bytes(content)
    result = segue("plays", "status")
    assert result.status in (EXIT_DATA, 2)
    one_line(result.err)


def test_a_read_only_database_is_one_line_from_every_writer(segue, db, db_path, monkeypatch):
    add_track(db, "Portishead", "Roads", "Dummy")
    db.close()
    # a database opened read-only (as an immutable file is): every write is refused
    real_connect = sqlite3.connect

    def read_only(path, *args, **kwargs):
        return real_connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    for args in (
        ("log-play", "/music/Portishead/Roads.flac", "--played-ms", "1000", "--wait", "0"),
        ("plays", "pause"),
        ("plays", "delete", "--all"),
    ):
        result = segue(*args)
        assert result.status == EXIT_DENIED, (args, result.err)
        one_line(result.err)


# -- 4, 5: absurd numbers and impossible times --------------------------------------------------


def _good_rows(n: int = 12) -> list[dict]:
    return [
        {
            "ts": f"2024-02-10T{10 + i // 60:02d}:{i % 60:02d}:00Z",
            "ms_played": 200_000,
            "master_metadata_track_name": "Roads",
            "master_metadata_album_artist_name": "Portishead",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("ms", ["1e400", "1e25", "1e13", "1e16", "-5"])
def test_spotify_absurd_ms_played_is_malformed(db, tmp_path, ms):
    bad = '{"ts": "2024-02-11T10:00:00Z", "ms_played": ' + ms + ", "
    bad += '"master_metadata_track_name": "Roads", "master_metadata_album_artist_name": "P"}'
    text = json.dumps(_good_rows())[:-1] + ", " + bad + "]"
    path = tmp_path / "s.json"
    path.write_text(text)
    report = import_files(db, [path])
    assert (report.added, report.malformed) == (12, 1)
    low = db.execute("SELECT min(started_at) FROM plays").fetchone()[0]
    assert low >= validate.EARLIEST_MS


@pytest.mark.parametrize(
    "field", ['"listened_at": 1e400', '"listened_at": 1700000000, "duration_ms": 1e30']
)
def test_listenbrainz_absurd_numbers_are_malformed(db, tmp_path, field):
    meta = {"artist_name": "P", "track_name": "R"}
    good = [{"listened_at": 1_700_000_000 + i * 300, "track_metadata": meta} for i in range(12)]
    bad = "{" + field + ', "track_metadata": {"artist_name": "P", "track_name": "R", '
    bad += '"additional_info": {"duration_ms": 1e30}}}'
    path = tmp_path / "lb.json"
    path.write_text(json.dumps(good)[:-1] + ", " + bad + "]")
    report = import_files(db, [path])  # never an exception; no absurd number stored
    assert report.added == 12 and report.malformed + report.duplicates == 1
    assert db.execute("SELECT max(coalesce(duration_ms, 0)) FROM plays").fetchone()[0] < 1e8


@pytest.mark.parametrize(
    "zone, line",
    [
        ("UTC", "P\tA\tR\t1\t180\tL\t1e400"),
        ("UTC", "P\tA\tR\t1\t1e400\tL\t1700000000"),
        ("UNKNOWN", "P\tA\tR\t1\t180\tL\t100000000000000000000"),
    ],
)
def test_scrobbler_log_absurd_numbers_never_crash(db, tmp_path, zone, line):
    good = [f"P\tA\tR{i}\t1\t180\tL\t{1_700_000_000 + i * 300}" for i in range(12)]
    path = tmp_path / ".scrobbler.log"
    path.write_text("\n".join(["#AUDIOSCROBBLER/1.1", f"#TZ/{zone}", *good, line]) + "\n")
    report = import_files(db, [path])  # never an exception; no absurd number stored
    assert report.added + report.malformed == 13 and report.added >= 12
    high = db.execute("SELECT max(started_at), max(coalesce(duration_ms, 0)) FROM plays")
    assert high.fetchone() <= (validate.latest_ms(), validate.DAY_MS)


def test_a_csv_field_over_a_mebibyte_is_one_malformed_row(db, tmp_path):
    plays = [(T0 + i * 5 * MIN, "Portishead", f"Roads {i}", "Dummy") for i in range(12)]
    path = lastfm_file(tmp_path / "l.csv", plays)
    with path.open("a") as handle:
        handle.write(f'1707588000,"x","{"y" * (2 << 20)}",,"a",,"t",\n')
        handle.write('1707589000,"x","{}",,"a",,"t",\n'.format("z" * 1000))
    report = import_files(db, [path])
    assert (report.added, report.malformed) == (13, 1)


def test_nul_bytes_are_stripped_from_history_text(db, tmp_path):
    path = spotify_file(
        tmp_path / "s.json", [(T0, 200_000, "Porti\x00shead", "Ro\x00ads", "Du\x00mmy")]
    )
    import_files(db, [path])
    assert db.execute("SELECT artist, title, album FROM plays").fetchone() == (
        "Portishead", "Roads", "Dummy",
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ("import-history", "--undo", "99999999999999999999"),
        ("plays", "delete", "--id", "99999999999999999999"),
        ("plays", "delete", "--id", "0"),
        ("log-play", "/music/P/R.flac", "--played-ms", "99999999999999999999"),
        ("log-play", "/music/P/R.flac", "--played-ms", "9999999999999999"),
        ("log-play", "/music/P/R.flac", "--played-ms", "-1"),
        ("log-play", "/music/P/R.flac", "--played-ms", "1000", "--at", "0001-01-01T00:00:00"),
        ("log-play", "/music/P/R.flac", "--played-ms", "1000", "--at", "1900-01-01T00:00:00"),
        ("log-play", "/music/P/R.flac", "--played-ms", "1000", "--at", "9999-12-31T00:00:00"),
    ],
    ids=lambda a: " ".join(a)[:60],
)
def test_absurd_command_line_numbers_are_one_line_and_status_2(segue, db, args):
    add_track(db, "P", "R")
    result = segue(*args)
    assert result.status == 2
    one_line(result.err)
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 0


def test_plays_status_survives_an_impossible_time_stored_earlier(segue, db):
    db.execute(
        "INSERT INTO plays (started_at, title, artist, source) VALUES (?, 'R', 'P', 'import')",
        [-10_000_000_000_000_000],
    )
    result = segue("plays", "status")
    assert result.status == 0, result.err


# -- 12: a file mostly malformed is refused; memory stays bounded ------------------------------


def test_a_history_of_mostly_junk_is_refused_whole(segue, db, db_path, tmp_path):
    path = tmp_path / "junk.csv"
    lines = ["uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid"]
    lines += ['1707588000,"x",P,,A,,R,', '1707589000,"x",P,,A,,S,']
    lines += [f"junk{i}" for i in range(200)]
    path.write_text("\n".join(lines) + "\n")
    result = segue("import-history", str(path))
    assert result.status == 2
    one_line(result.err)
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM imports").fetchone()[0] == 0


# VmHWM: this process's peak resident memory, in KiB (ru_maxrss would carry over the
# pytest parent's peak across exec)
PEAK_SCRIPT = """
import re, sys
from player_plugin.cli import main
status = main(["--db", sys.argv[1], "import-history", sys.argv[2]])
status_text = open("/proc/self/status").read()
print(status, re.search(r"VmHWM:\\s+(\\d+) kB", status_text).group(1))
"""


@pytest.mark.parametrize(
    "start", [b'[{"ts": "2024-01-01T00:00:00Z", "ms_played": 1, "x": "', b"uts,artist,track\n"]
)
def test_a_large_garbage_history_is_refused_in_bounded_memory(tmp_path, start):
    path = tmp_path / "garbage"
    chunk = os.urandom(1 << 20).replace(b"\n", b"x")
    with path.open("wb") as handle:
        handle.write(start)
        for i in range(16):  # 16 MiB of junk in long lines (benchmarks/ measures 200 MB)
            handle.write(chunk if i % 8 else chunk[:-1] + b"\n")
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / "g.db"), str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    status, peak_kib = proc.stdout.split()
    assert status == "2", proc.stderr
    one_line(proc.stderr)
    assert int(peak_kib) < 300 * 1024, f"peak {int(peak_kib) // 1024} MiB"


# -- 8: model files and folders stay inside the models directory -------------------------------


@pytest.mark.parametrize("name", ["/etc/hostname", "../../../../etc/hostname", "sub/x.onnx", ".."])
def test_a_manifest_naming_a_file_outside_its_folder_is_refused(tmp_path, name):
    folder = tmp_path / "model"
    shutil.copytree(trained_model(tmp_path), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["item_tower"] = name
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="not in the model folder"):
        Engine(folder)


def test_a_registry_folder_outside_the_models_directory_is_never_deleted(db, db_path):
    victim = db_path.parent / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    for n, folder in enumerate(["../victim", str(victim), "a/../../victim", "m3", "m4", "m5"]):
        reg.add_model(
            db, f"m{n}", folder=folder, cutoff=1, data_size=1, metrics={}, created_at=n + 1
        )
    with pytest.raises(reg.RegistryError):
        reg.model_folder(db, reg.get_model(db, "m0"))
    reg.prune(db, keep=1)
    assert (victim / "keep.txt").read_text() == "mine"
    assert [r["id"] for r in reg.list_models(db)] == ["m5"]


# -- 10, 11: empty paths; private files ---------------------------------------------------------


@pytest.mark.parametrize("args", [("scan", ""), ("scan", "  "), ("import-history", ""),
                                  ("log-play", "", "--played-ms", "1")])  # fmt: skip
def test_empty_paths_are_refused(segue, args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = segue(*args)
    assert result.status == 2
    one_line(result.err)


READERS = [("recommend",), ("info", "/music/a.flac"), ("plays", "status"),
           ("plays", "export", "out.json"), ("plays", "delete", "--all"), ("analyze",),
           ("train",), ("model", "list"), ("playlist", "-o", "radio.m3u8"), ("folders",),
           ("folders", "remove", "music")]  # fmt: skip


@pytest.mark.parametrize("args", READERS)
def test_a_command_that_reads_refuses_a_database_that_does_not_exist(
    segue, db_path, tmp_path, monkeypatch, args
):
    # a mistyped --db once answered "0 plays" and left an empty database behind
    monkeypatch.chdir(tmp_path)
    result = segue(*args)
    assert result.status == EXIT_NOINPUT, result.err
    one_line(result.err)
    assert f"no database at {db_path}" in result.err
    assert sorted(tmp_path.iterdir()) == []  # nothing created: no database, no output file


@pytest.mark.parametrize("args", [("plays", "pause"), ("settings", "set", "variety", "0.3"),
                                  ("folders", "add", "music"), ("scan", "music")])  # fmt: skip
def test_a_command_that_records_makes_the_database(segue, db_path, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "music").mkdir()
    result = segue(*args)
    assert db_path.exists()
    assert result.status in (0, 1), result.err  # an empty folder's scan says "no music"


def test_scan_of_a_folder_with_nothing_readable_exits_non_zero(segue, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not music")
    result = segue("scan", str(folder))
    assert result.status == 1
    assert "no music" in result.err


def test_the_database_and_models_folder_are_private(tmp_path):
    folder = tmp_path / "home" / "segue"
    db = open_db(folder / "segue.db")
    db.execute("INSERT INTO settings (key, value) VALUES ('x', '1')")
    root = reg.ensure_models_root(reg.models_root(db))
    for name in ("segue.db", "segue.db-wal", "segue.db-shm"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    db.close()


def test_an_existing_database_keeps_its_mode(tmp_path):
    path = tmp_path / "shared.db"
    open_db(path).close()
    path.chmod(0o640)
    open_db(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_serving_refuses_an_escaping_model_and_falls_back_with_one_line(db, tmp_path, caplog):
    from player_plugin.recommend.model import load_active

    good = trained_model(tmp_path)
    root = reg.models_root(db)
    for n, model_id in enumerate(["good", "evil"]):
        shutil.copytree(good, root / model_id)
        evaluated = {"holdout": {"model": 0.0}}  # only an evaluated model can serve
        reg.add_model(
            db,
            model_id,
            folder=model_id,
            cutoff=1,
            data_size=1,
            metrics=evaluated,
            created_at=n + 1,
        )
        reg.activate(db, model_id)
    manifest = json.loads((root / "evil" / "manifest.json").read_text())
    manifest["files"]["scorer"] = str(root / "good" / manifest["files"]["scorer"])
    (root / "evil" / "manifest.json").write_text(json.dumps(manifest))
    served = load_active(db, fit=False)
    assert served is not None and served.engine.folder.name == "good"  # the retired one
    refusals = [r.getMessage() for r in caplog.records if "evil" in r.getMessage()]
    assert len(refusals) == 1 and "not in the model folder" in refusals[0]


def test_every_segue_error_is_one_line_with_a_status():
    assert failure(reg.RegistryError("no model 'x'")) == ("no model 'x'", 1)
    assert failure(validate.InvalidValue("--id: too large")) == ("--id: too large", 1)
    assert failure(RuntimeError("a bug")) is None  # a bug keeps its traceback


@pytest.mark.parametrize("args", [("plays",), ("recommend",), ("doctor",), ("scan", "music"),
                                  ("gui",), ("listen", "--host", "mpd")])  # fmt: skip
def test_an_empty_database_path_is_refused_in_one_line(capsys, tmp_path, monkeypatch, args):
    # `--db ""` opened the current folder: "cannot open database ." (exit 74)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "music").mkdir()
    capsys.readouterr()
    status = cli_main(["--db", "", *args])
    err = capsys.readouterr().err
    assert status == 2, err
    one_line(err)
    assert "database path (--db) is empty" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["music"]  # nothing created


@pytest.mark.parametrize("args", [("plays",), ("doctor",), ("scan", "music"), ("gui",)])
def test_a_folder_as_the_database_is_refused_in_one_line(capsys, tmp_path, args):
    # `--db FOLDER` said "cannot read or write the database (unable to open database
    # file)", exit 74, as if the disk had failed
    (tmp_path / "music").mkdir()
    capsys.readouterr()
    status = cli_main(
        ["--db", str(tmp_path), *[str(tmp_path / a) if a == "music" else a for a in args]]
    )
    err = capsys.readouterr().err
    assert status == 2, err
    one_line(err)
    assert f"--db {tmp_path} is a folder" in err and str(tmp_path / "segue.db") in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["music"]  # nothing created
