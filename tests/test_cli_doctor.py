"""`segue doctor` and the CLI's common contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_doctor_json(segue, db, db_path):
    result = segue("doctor", "--json")
    assert result.status == 0
    info = result.json
    assert "CPUExecutionProvider" in info["providers_available"]
    assert info["database"]["path"] == str(db_path)
    assert info["database"]["tracks"] == 0 and info["database"]["exists"] is True


def test_doctor_lists_decoders_and_never_creates_a_database(segue, db_path):
    result = segue("doctor", "--json")
    assert result.status == 0
    info = result.json
    assert not db_path.exists() and not db_path.parent.joinpath("segue.db-wal").exists()
    assert info["database"] == {"path": str(db_path), "exists": False}
    assert info["decoders"] == ["soundfile", "pyav"]
    assert info["decoder_libraries"]["pyav"].startswith("PyAV ")
    assert info["decoder_libraries"]["soundfile"].startswith("libsndfile ")
    text = segue("doctor")
    assert text.status == 0 and not db_path.exists()
    assert "does not exist yet" in text.out
    assert "audio decoders, tried in turn: soundfile (libsndfile" in text.out


def test_db_option_after_command(segue, db_path):
    from player_plugin.cli import main

    assert main(["doctor", "--db", str(db_path), "--json"]) == 0


def test_unreadable_database_is_one_line(segue, tmp_path, capsys):
    from player_plugin.cli import main

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 500)
    assert main(["--db", str(bad), "doctor"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open database" in err


def test_no_display_is_one_line_not_an_abort(tmp_path):
    """`segue gui` on a machine with no desktop session: one line, exit 2 (Qt would abort
    with its plugin messages)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from player_plugin.cli import main; sys.exit(main())",
         "--db", str(tmp_path / "s.db"), "gui"],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "segue: no display to open the player on: start it from a desktop session, or set "
        "QT_QPA_PLATFORM=offscreen to run it without a window"
    ]
