"""A scan under real faults: kill -9 mid-way, unreadable folders and files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import audio_fixtures
import pytest

from player_plugin.library.scanner import scan
from player_plugin.store import open_db

audio_files = audio_fixtures.audio_files  # the session fixture

ROOT = Path(__file__).resolve().parents[1]

SLOW_SCAN = textwrap.dedent(
    """
    import sys, time
    from player_plugin.library import scanner
    from player_plugin.store import open_db

    real = scanner.try_read_tags
    def slow(path):  # slow enough to be killed mid-way, real reads all the same
        time.sleep(0.01)
        return real(path)
    scanner.try_read_tags = slow
    scanner.BATCH_FILES = 10
    scanner.scan(open_db(sys.argv[1]), [sys.argv[2]], workers=0)
    print("finished")
    """
)


def count_tracks(db_path: Path) -> int:
    try:
        conn = sqlite3.connect(db_path, timeout=10)
        try:
            return conn.execute("SELECT count(*) FROM tracks").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_kill_9_mid_scan_leaves_a_sound_database_and_the_next_scan_resumes(audio_files, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    total = 200
    for i in range(total):
        shutil.copy2(audio_files["mp3-bare"], music / f"{i:03}.mp3")
    db_path = tmp_path / "segue.db"
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_SCAN, str(db_path), str(music)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while count_tracks(db_path) < 30:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert b"finished" not in out

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    db = open_db(db_path)
    kept = db.execute("SELECT count(*) FROM tracks").fetchone()[0]
    assert 30 <= kept < total
    summary = scan(db, [music], workers=0)
    assert (summary.added, summary.unchanged, summary.errors) == (total - kept, kept, 0)
    assert db.execute("SELECT count(*) FROM tracks").fetchone()[0] == total
    db.close()


UNREADABLE_SCAN = textwrap.dedent(
    """
    import json, sys
    from player_plugin.library.scanner import scan
    from player_plugin.store import open_db
    summary = scan(open_db(sys.argv[1]), [sys.argv[2]], workers=0)
    print(json.dumps(summary.as_json()))
    """
)


def _as_unprivileged() -> list[str]:
    """A command prefix under which file permissions apply (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_folder_and_file(audio_files, tmp_path):
    music = tmp_path / "music"
    locked = music / "locked"
    locked.mkdir(parents=True)
    shutil.copy2(audio_files["flac"], locked / "inside.flac")
    shutil.copy2(audio_files["mp3"], music / "fine.mp3")
    secret = Path(shutil.copy2(audio_files["ogg"], music / "secret.ogg"))
    db_path = tmp_path / "segue.db"
    db = open_db(db_path)
    assert scan(db, [music]).added == 3
    inside_id = db.execute("SELECT id FROM tracks WHERE path_text LIKE '%inside.flac'").fetchone()
    secret.write_bytes(secret.read_bytes() + b"\0")  # changed, so it must be read again
    locked.chmod(0)
    secret.chmod(0)
    try:
        result = subprocess.run(
            [*_as_unprivileged(), sys.executable, "-c", UNREADABLE_SCAN, str(db_path), str(music)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        locked.chmod(0o755)
        secret.chmod(0o644)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["errors"] == 2 and summary["removed"] == 0 and summary["unchanged"] == 1
    reasons = {
        Path(os.fsdecode(path)).name: reason
        for path, reason in db.execute("SELECT path, reason FROM scan_errors")
    }
    assert "Permission denied" in reasons["locked"]
    assert "Permission denied" in reasons["secret.ogg"]
    # the folder's contents are unknown, not gone: its track is not flagged missing
    missing = db.execute("SELECT missing FROM tracks WHERE id = ?", inside_id).fetchone()[0]
    assert missing == 0
    # readable again: the errors clear
    summary = scan(db, [music])
    assert summary.errors == 0 and summary.updated == 1
    assert db.execute("SELECT count(*) FROM scan_errors").fetchone()[0] == 0
    db.close()
