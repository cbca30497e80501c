"""`segue doctor` and the CLI's common contract."""

from __future__ import annotations


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
