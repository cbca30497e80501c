"""Library folders that stay: `segue scan PATH` registers PATH, `segue folders` lists and
edits them (non-UTF-8 names too), `segue doctor --json` shows them without creating a
database, and the player's Rescan, its start-up rescan and the import wizard see them."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from audio_fixtures import write_audio
from PySide6.QtCore import QSettings
from ui_support import write_library

from player_plugin.app.importing import ImportSession
from player_plugin.store.db import open_db
from player_plugin.store.folders import library_folders, set_library_folders
from player_plugin.store.settings import set_setting
from player_plugin.ui.prefs import Prefs

LATIN1 = b"caf\xe9 m\xfasica"  # not UTF-8


def _b64(path: bytes) -> str:
    return "b64:" + base64.b64encode(path).decode("ascii")


def test_scan_registers_the_folder(segue, tmp_path):
    music = tmp_path / "music"
    write_library(music, artists=2, per_artist=2)
    assert segue("scan", music).status == 0
    data = segue("folders", "--json").json
    assert data["folders"] == [{"path": str(music), "exists": True, "tracks": 4}]
    # scanning again (also with a trailing slash) keeps one entry
    assert segue("scan", f"{music}/").status == 0
    assert len(segue("folders", "--json").json["folders"]) == 1
    text = segue("folders").out
    assert str(music) in text and "4 tracks" in text


def test_scanning_a_file_registers_no_folder(segue, tmp_path):
    song = write_audio(tmp_path / "one.flac", "flac", seconds=0.3)
    assert segue("scan", song).status == 0
    assert segue("folders", "--json").json["folders"] == []


def test_folders_add_and_remove(segue, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    added = segue("folders", "add", a, b, "--json")
    assert added.status == 0, added.err
    assert [f["path"] for f in added.json["folders"]] == [str(a), str(b)]
    assert [f["path"] for f in added.json["added"]] == [str(a), str(b)]
    again = segue("folders", "add", a, "--json").json
    assert again["added"] == [] and len(again["folders"]) == 2
    removed = segue("folders", "remove", a, "--json")
    assert removed.status == 0
    assert [f["path"] for f in removed.json["folders"]] == [str(b)]
    b.rmdir()  # a folder that went away is listed as such
    assert segue("folders", "--json").json["folders"] == [
        {"path": str(b), "exists": False, "tracks": 0}
    ]
    assert "not there now" in segue("folders").out


@pytest.mark.parametrize(
    "args, words",
    [
        (("add", "{tmp}/nope"), "not a folder"),
        (("remove", "{tmp}"), "not a library folder"),
        (("add",), "give at least one PATH"),
    ],
)
def test_folders_bad_input_is_one_line(segue, db, tmp_path, args, words):
    result = segue("folders", *(a.format(tmp=tmp_path) for a in args))
    assert result.status != 0
    assert result.err.count("\n") == 1 and words in result.err, result.err
    assert "Traceback" not in result.err


def test_non_utf8_folder_names(segue, tmp_path):
    folder = os.fsencode(tmp_path) + b"/" + LATIN1
    os.mkdir(folder)
    song = write_audio(tmp_path / "tone.flac", "flac", seconds=0.3)
    os.rename(os.fsencode(song), folder + b"/tone.flac")
    result = segue("scan", _b64(folder), "--json")
    assert result.status == 0, result.err
    listed = segue("folders", "--json").json["folders"]
    assert len(listed) == 1
    assert base64.b64decode(listed[0]["path_b64"]) == folder
    assert listed[0]["tracks"] == 1 and listed[0]["exists"] is True
    assert segue("folders", "remove", _b64(folder)).status == 0
    assert segue("folders", "--json").json["folders"] == []
    assert segue("folders", "add", _b64(folder)).status == 0
    db = open_db(tmp_path / "segue.db")
    try:
        assert library_folders(db) == [folder]
    finally:
        db.close()


def test_folders_written_by_older_versions_read_back(db, tmp_path):
    folder = os.fsencode(tmp_path) + b"/" + LATIN1
    set_setting(db, "library.folders", [os.fsdecode(folder), "/music/ok"])
    assert library_folders(db) == [folder, b"/music/ok"]
    set_library_folders(db, [folder, folder, b"/music/ok"])
    assert library_folders(db) == [folder, b"/music/ok"]


def test_doctor_shows_the_folders_and_never_creates_a_database(segue, tmp_path, db_path):
    assert not db_path.exists()
    empty = segue("doctor", "--json")
    assert empty.status == 0 and empty.json["folders"] == []
    assert not db_path.exists()
    music = tmp_path / "music"
    write_library(music, artists=1, per_artist=2)
    segue("scan", music)
    data = segue("doctor", "--json").json
    assert data["folders"] == [{"path": str(music), "exists": True, "tracks": 2}]
    assert f"library folders: {music} (2 tracks)" in segue("doctor").out


# -- the player and the wizard see them ------------------------------------------------


@pytest.fixture
def scanned_by_cli(segue, tmp_path, db_path):
    music = tmp_path / "music"
    write_library(music, artists=2, per_artist=2)
    assert segue("scan", music).status == 0
    db = open_db(db_path)
    Prefs(autoplay=False, retrain_policy="manual", analyse_audio=False).save(db)
    db.close()
    return music


def test_player_rescan_and_wizard_see_folders_added_by_scan(
    qtbot, db_path, scanned_by_cli, tmp_path
):
    from player_plugin.ui.player_window import PlayerWindow
    from player_plugin.ui.wizard import FoldersPage

    music = scanned_by_cli
    window = PlayerWindow(
        db_path, settings=QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    try:
        assert window.library_folders() == [os.fsencode(music)]
        qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5_000)
        window.watcher.removePaths(window.watcher.directories())  # File ▸ Rescan, not the watcher
        write_audio(music / "Artist A" / "Added.flac", "flac", seconds=0.3, tags={"title": "Added"})
        rescan = next(
            a for a in window.menuBar().actions()[0].menu().actions() if "Rescan" in a.text()
        )
        rescan.trigger()
        qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=10_000)
        page = FoldersPage(ImportSession(db_path))
        assert page.folders() == [os.fsencode(music)]
    finally:
        window.close()


def test_the_player_rescans_its_folders_when_it_starts(qtbot, db_path, scanned_by_cli, tmp_path):
    from player_plugin.cli.gui import open_player

    write_audio(scanned_by_cli / "While closed.flac", "flac", seconds=0.3, tags={"title": "New"})
    settings = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
    window = open_player(str(db_path), settings=settings, rescan=True)
    qtbot.addWidget(window)
    try:
        window.watcher.removePaths(window.watcher.directories())
        qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=10_000)
    finally:
        window.close()
    db = open_db(db_path)
    try:
        rows = json.dumps([r["title"] for r in db.query("SELECT title FROM tracks")])
    finally:
        db.close()
    assert "New" in rows


def test_folder_paths_are_absolute(segue, tmp_path, monkeypatch):
    (tmp_path / "rel").mkdir()
    monkeypatch.chdir(tmp_path)
    assert segue("folders", "add", "rel").status == 0
    assert segue("folders", "--json").json["folders"][0]["path"] == str(Path(tmp_path) / "rel")


def test_the_wizard_keeps_non_utf8_folders_as_they_are(qtbot, db_path, db, tmp_path):
    from player_plugin.ui.wizard import FoldersPage

    folder = os.fsencode(tmp_path) + b"/" + LATIN1
    os.mkdir(folder)
    set_library_folders(db, [folder])
    page = FoldersPage(ImportSession(db_path))
    qtbot.addWidget(page)
    assert page.folders() == [folder]
    page.add_folder(folder)  # the same folder again: still one
    page.add_folder(str(tmp_path))
    assert page.folders() == [folder, os.fsencode(tmp_path)]
    ImportSession(db_path).save_folders(page.folders())
    assert library_folders(db) == [folder, os.fsencode(tmp_path)]
