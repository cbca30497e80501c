"""The Qt-free import session: its decisions are methods a script (or test) answers."""

from __future__ import annotations

import json
import os

import pytest
from ui_support import write_library

from player_plugin.app.importing import ImportSession, Readiness


def listenbrainz(path, plays):
    items = [
        {
            "listened_at": 1_700_000_000 + i * 600,
            "track_metadata": {
                "artist_name": artist,
                "track_name": title,
                "additional_info": {"duration_ms": 600, "ms_played": 600},
            },
        }
        for i, (artist, title) in enumerate(plays)
    ]
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


class Scripted(ImportSession):
    """Answers like a user would: these folders, this history file, no training."""

    def __init__(self, db_path, folders, files):
        super().__init__(db_path)
        self.folders, self.files = folders, files
        self.asked: list[str] = []
        self.progress: list = []

    def choose_folders(self, current):
        self.asked.append("folders")
        return self.folders

    def choose_history_files(self):
        self.asked.append("history")
        return self.files

    def choose_train(self, readiness):
        self.asked.append(f"train? {readiness.listened}")
        return False

    def scan_progress(self, progress):
        self.progress.append(progress)


def test_the_session_asks_its_decisions_in_order(tmp_path, db_path, db):
    root = tmp_path / "music"
    write_library(root, artists=2, per_artist=2)
    history = listenbrainz(
        tmp_path / "listens.json",
        [("Artist A", "Song 00"), ("Artist B", "Song 11"), ("Nobody", "Not Here")],
    )
    session = Scripted(db_path, [os.fsencode(root)], [str(history)])
    result = session.run()
    assert session.asked == ["folders", "history", "train? 2"]
    assert result.scan.added == 4 and session.progress
    assert result.history[0].matched == 2 and result.history[0].unmatched == 1
    assert result.readiness == Readiness(plays=2, listened=2)
    assert not result.readiness.enough and "your listening patterns" in result.readiness.explain()
    assert result.training is None
    # the folders are remembered for the watcher and the next run
    assert ImportSession(db_path).saved_folders() == [os.fsencode(root)]


def test_a_missing_folder_is_one_clear_error(tmp_path, db_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        ImportSession(db_path).scan([os.fsencode(tmp_path / "nope")])


def test_cancel_stops_the_run_after_the_scan(tmp_path, db_path, db):
    root = tmp_path / "music"
    write_library(root, artists=1, per_artist=2)
    session = Scripted(db_path, [os.fsencode(root)], [])
    session.cancel_event.set()
    result = session.run()
    assert result.cancelled and "history" not in session.asked
