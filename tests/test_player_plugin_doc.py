"""The docs/PLUGIN.md snippet (copied into the README) works as written, with a minimal
third-party player: plays are logged, the dock and menu appear, auto-play fills the queue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDockWidget, QMainWindow
from ui_support import played, scanned, write_library

DOC = Path(__file__).resolve().parents[1] / "docs" / "PLUGIN.md"


def snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks, "docs/PLUGIN.md lost its code"
    return blocks[0]


class TinyPlayer:
    """A third-party player's state, as simple as it gets."""

    def __init__(self):
        self.current: bytes | None = None
        self.queue: list[bytes] = []


@pytest.fixture
def library(tmp_path, db):
    tracks = scanned(db, write_library(tmp_path / "music")[0].parents[1])
    played(db, tracks, played_ids={t["id"] for t in tracks[:6]})
    return tracks


def test_the_documented_snippet_plugs_segue_in(qtbot, db_path, db, library):
    assert len(snippet().strip().splitlines()) <= 20
    window = QMainWindow()
    qtbot.addWidget(window)
    player = TinyPlayer()
    scope = {"player": player, "db_path": db_path, "main_window": window}
    exec(compile(snippet(), str(DOC), "exec"), scope)
    host = scope["host"]
    assert any(a.text() == "&Segue" for a in window.menuBar().actions())
    docks = [d for d in window.findChildren(QDockWidget) if d.windowTitle() == "Up next"]
    assert len(docks) == 1

    path = bytes(library[0]["path"])
    player.current = path
    host.track_started.emit(path)
    # auto-play: the queue was empty while a track plays, so the best suggestion is appended
    qtbot.waitUntil(lambda: len(player.queue) == 1, timeout=10_000)
    assert player.queue[0] != path
    host.track_ended.emit(path, 600, "completed")
    last = list(db.query("SELECT track_id, reason, ms_played FROM plays ORDER BY id DESC LIMIT 1"))
    assert last == [{"track_id": library[0]["id"], "reason": "completed", "ms_played": 600}]
