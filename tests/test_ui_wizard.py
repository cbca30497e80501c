"""The import wizard end to end on fixture files: folders → scan (progress, counts, cancel) →
history (auto-detected, matched counts) → first model or the explanation → done."""

from __future__ import annotations

import json
import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWizard
from ui_support import write_library

from player_plugin.app.importing import MIN_PLAYS_TO_TRAIN
from player_plugin.domain.training_events import Epoch, Stage
from player_plugin.ui.wizard import ImportWizard


def listenbrainz(path, plays):
    path.write_text(
        json.dumps(
            [
                {
                    "listened_at": 1_750_000_000 + i * 900,
                    "track_metadata": {"artist_name": artist, "track_name": title},
                }
                for i, (artist, title) in enumerate(plays)
            ]
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def wizard(qtbot, db_path, db):
    wizard = ImportWizard(str(db_path))
    qtbot.addWidget(wizard)
    wizard.show()
    yield wizard
    wizard.reject()


def next_page(qtbot, wizard):
    qtbot.waitUntil(
        lambda: wizard.button(QWizard.WizardButton.NextButton).isEnabled(), timeout=20_000
    )
    wizard.next()


def test_wizard_end_to_end_without_enough_history(qtbot, wizard, tmp_path, db):
    root = tmp_path / "music"
    write_library(root, artists=3, per_artist=2)
    assert not wizard.folders_page.isComplete()
    wizard.folders_page.add_folder(str(root))
    assert wizard.folders_page.isComplete()
    wizard.next()
    assert wizard.currentPage() is wizard.scan_page
    qtbot.waitUntil(lambda: wizard.scan_page.summary is not None, timeout=20_000)
    assert wizard.scan_page.summary.added == 6
    assert "6 added" in wizard.scan_page.label.text()
    next_page(qtbot, wizard)
    assert wizard.currentPage() is wizard.history_page
    lb = listenbrainz(
        tmp_path / "listens.json",
        [("Artist A", "Song 00"), ("Artist C", "Song 21"), ("Someone Else", "Elsewhere")],
    )
    wizard.history_page.add_files([str(lb)])
    qtbot.waitUntil(lambda: wizard.history_page.isComplete(), timeout=20_000)
    text = wizard.history_page.list.item(0).text()
    assert "3 plays read" in text and "2 matched" in text, text
    next_page(qtbot, wizard)
    assert wizard.currentPage() is wizard.train_page
    assert "your listening patterns" in wizard.train_page.label.text()
    assert str(MIN_PLAYS_TO_TRAIN) in wizard.train_page.label.text()
    assert wizard.train_page.job is None  # not enough history: nothing started
    next_page(qtbot, wizard)
    assert wizard.currentPage() is wizard.done_page
    assert "6 tracks" in wizard.done_page.label.text()
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 3  # unmatched kept too
    assert wizard.session.saved_folders() == [os.fsencode(root)]


def test_a_bad_history_file_is_one_clear_line(qtbot, wizard, tmp_path):
    wizard.folders_page.add_folder(str(tmp_path))
    wizard.next()
    next_page(qtbot, wizard)
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a listening history\n")
    wizard.history_page.add_files([str(bad)])
    qtbot.waitUntil(lambda: wizard.history_page.isComplete(), timeout=20_000)
    text = wizard.history_page.list.item(0).text()
    assert "not imported" in text and "\n" not in text and "Traceback" not in text


def test_an_export_folder_is_imported_from_its_button(qtbot, wizard, tmp_path, db, monkeypatch):
    """*Add an export folder…*: the folder chosen (the dialog answered here) imports the
    histories inside it and passes over the rest of the export."""
    wizard.folders_page.add_folder(str(tmp_path))
    wizard.next()
    next_page(qtbot, wizard)
    export = tmp_path / "my_export" / "history"
    export.mkdir(parents=True)
    listenbrainz(export / "listens.json", [("Artist A", "Song 00"), ("Someone", "Else")])
    (tmp_path / "my_export" / "Userdata.json").write_text('{"username": "x"}')
    monkeypatch.setattr(
        "player_plugin.ui.wizard.QFileDialog.getExistingDirectory",
        lambda *_args: str(tmp_path / "my_export"),
    )
    button = wizard.history_page.findChild(QPushButton, "add-history-folder")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.history_page.isComplete(), timeout=20_000)
    text = wizard.history_page.list.item(0).text()
    assert text.startswith("my_export [listenbrainz]:") and "2 plays read" in text, text
    assert db.execute("SELECT count(*) FROM plays").fetchone()[0] == 2


def test_scan_can_be_cancelled_and_keeps_what_it_read(qtbot, wizard, tmp_path, db):
    root = tmp_path / "music"
    write_library(root, artists=2, per_artist=2)
    wizard.folders_page.add_folder(str(root))
    wizard.session.cancel_event.set()  # the user pressed Cancel before the first batch
    wizard.scan_page._cancel()
    wizard.next()
    wizard.scan_page._cancel()
    qtbot.waitUntil(lambda: not wizard.scan_page.running, timeout=20_000)
    assert wizard.scan_page.isComplete()
    summary = wizard.scan_page.summary
    assert summary is not None and (summary.cancelled or summary.added == 4)
    stored = db.execute("SELECT count(*) FROM tracks").fetchone()[0]
    assert stored == summary.added + summary.updated


def test_a_missing_folder_fails_with_one_line(qtbot, wizard, tmp_path):
    wizard.folders_page.add_folder(str(tmp_path / "gone"))
    wizard.next()
    qtbot.waitUntil(lambda: not wizard.scan_page.running, timeout=20_000)
    assert wizard.scan_page.error.startswith("not a folder")
    assert "failed" in wizard.scan_page.label.text()


@pytest.mark.slow  # the real `segue train`: about 15-30 s
def test_wizard_trains_the_first_model_when_history_allows(qtbot, wizard, tmp_path, db):
    from player_plugin.store.models import active_model

    root = tmp_path / "music"
    write_library(root, artists=3, per_artist=2)
    wizard.folders_page.add_folder(str(root))
    wizard.next()
    next_page(qtbot, wizard)
    songs = [(f"Artist {chr(65 + a)}", f"Song {a}{t}") for a in range(3) for t in range(2)]
    plays = [songs[(i * 7 + i // 6) % 6] for i in range(720)]  # 720 listens, 6 tracks
    wizard.history_page.add_files([str(listenbrainz(tmp_path / "listens.json", plays))])
    next_page(qtbot, wizard)
    page = wizard.train_page
    assert page.readiness.enough and page.job is not None and page.job.running
    assert not page.isComplete()  # Next waits for the trainer (or Cancel)
    qtbot.waitUntil(page.isComplete, timeout=180_000)
    assert page.error == "", page.error
    assert page.result.model_id, page.result
    row = active_model(db)
    assert (row is not None) == page.result.promoted
    assert page.status.text() == page.result.summary()  # music words: the figures are in
    assert "NDCG" not in page.status.text()  # the report's Advanced section
    next_page(qtbot, wizard)
    assert wizard.currentPage() is wizard.done_page


def test_the_training_page_speaks_music(wizard):
    """The wizard's training page says what the status bar says while a model learns: no
    "epoch" or "loss" (it said "epoch 2 · about 32 s left · loss 9.100")."""
    page = wizard.train_page
    page._progress(Epoch(2, 12, 9.1, 9.0, 0.1, eta_s=31.6))
    assert page.status.text() == "Learning from your listening: pass 2, about 32 s left"
    assert (page.bar.value(), page.bar.maximum()) == (2, 12)
    page._progress(Stage("export"))
    assert page.status.text() == "Learning from your listening: saving what it learned…"
