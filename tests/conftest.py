"""Shared fixtures: a fresh store per test, an in-process `segue` runner, Qt offscreen."""

from __future__ import annotations

import gc
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from player_plugin.cli import main as cli_main
from player_plugin.store import open_db

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _one_qt_application(qapp):
    """The process's Qt application is a QApplication from the first test on: a test that
    runs `segue listen` in-process would otherwise make a QCoreApplication (all a headless
    face needs), and every later widget would abort the whole run."""
    return qapp


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread():
    """Tests drop what no application would: windows, hosts and runners that Python owns,
    in reference cycles. Python's collector is automatic (docs/PLUGIN.md) and runs on any
    thread; collecting each test's garbage here, on the GUI thread as the test ends, keeps
    a later test's pool thread from destroying those Qt objects."""
    yield
    gc.collect()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "segue.db"


@pytest.fixture
def db(db_path: Path):
    database = open_db(db_path)
    yield database
    database.close()


@dataclass
class CliResult:
    status: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def segue(capsys, db_path: Path, monkeypatch):
    """Run `segue ARGS...` in-process against the test's database."""
    monkeypatch.setenv("SEGUE_HOME", str(db_path.parent))

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        status = cli_main(["--db", str(db_path), *map(str, args)])
        captured = capsys.readouterr()
        return CliResult(status, captured.out, captured.err)

    return run


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA
