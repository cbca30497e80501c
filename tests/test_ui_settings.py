"""Settings take effect: they persist in the store, the dialog edits them, pausing play
logging records nothing new, and the retraining policy starts training when its condition
is met (after N plays, when idle) and never on "manual"."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ui_support import scanned, write_library

from player_plugin.app import autotrain
from player_plugin.app.suggest import rules
from player_plugin.hosts.base import MemoryHost
from player_plugin.recommend.model_eval import MIN_LISTENS
from player_plugin.store.plays import log_play
from player_plugin.store.settings import get_setting, logging_paused
from player_plugin.ui.plugin import SeguePlugin
from player_plugin.ui.prefs import Prefs
from player_plugin.ui.settings_dialog import SettingsDialog


@pytest.fixture
def library(tmp_path, db):
    return scanned(db, write_library(tmp_path / "music", artists=2, per_artist=2)[0].parents[1])


@pytest.fixture
def history(db, library):
    """Enough listens for a first model, a year ago, taken by an earlier training attempt."""
    with db.atomic():
        for k in range(MIN_LISTENS):
            log_play(
                db, library[k % len(library)]["id"], started_at=1_600_000_000_000 + k * 300_000,
                ms_played=200_000, reason="completed",
            )  # fmt: skip
    autotrain.mark_attempt(db)


def make_plugin(db_path, db, **prefs):
    Prefs(autoplay=False, **prefs).save(db)
    return SeguePlugin(MemoryHost(), db_path)


def test_prefs_round_trip_through_the_store(db):
    prefs = Prefs(variety=0.8, artist_window=5, excluded_genres=["Podcast"], provider="cuda")
    prefs.save(db)
    loaded = Prefs.load(db)
    assert loaded == replace(prefs, provider="CUDAExecutionProvider")  # onnxruntime's name
    assert get_setting(db, "ui.variety") == 0.8
    assert get_setting(db, "recommend.provider") == "CUDAExecutionProvider"  # the engine's key
    assert rules(loaded).dial == 0.8
    assert rules(loaded).artist_window == 5


def test_the_dialog_edits_every_setting(qtbot, db):
    prefs = Prefs()
    dialog = SettingsDialog(db, prefs)
    qtbot.addWidget(dialog)
    assert dialog.provider.count() >= 2  # automatic + at least the CPU provider
    assert any("CPU" in dialog.provider.itemText(i) for i in range(dialog.provider.count()))
    dialog.variety.setValue(90)
    dialog.artist_window.setValue(7)
    dialog.genres.setText("Audiobook, Podcast, Comedy")
    dialog.policy_idle.setChecked(True)
    dialog.idle_minutes.setValue(25)
    dialog.autoplay.setChecked(False)
    assert not dialog.notify.isChecked()  # off unless the listener switches it on
    dialog.notify.setChecked(True)
    dialog.paused.setChecked(True)
    dialog.folders.addItem("/music/Audiobooks")
    dialog.accept()
    result = dialog.prefs
    assert result.variety == 0.9 and result.artist_window == 7
    assert result.excluded_genres == ["Audiobook", "Podcast", "Comedy"]
    assert result.excluded_folders == ["/music/Audiobooks"]
    assert result.retrain_policy == "idle" and result.retrain_idle_minutes == 25
    assert result.autoplay is False
    assert result.notify_track_change is True
    assert logging_paused(db)
    assert prefs.variety != 0.9  # the caller's prefs change only when applied


def test_applied_settings_are_saved_and_used(qtbot, db_path, db, library):
    plugin = make_plugin(db_path, db, retrain_policy="manual")
    try:
        prefs = Prefs.load(db)
        prefs.variety = 1.0
        plugin.apply_prefs(prefs)
        assert Prefs.load(db).variety == 1.0
        assert rules(plugin.prefs).dial == 1.0
    finally:
        plugin.shutdown()


def play(plugin, track, ms=600, reason="completed"):
    plugin.host.play(bytes(track["path"]))
    plugin.host.finish(ms, reason)


def test_retraining_starts_after_n_new_plays(qtbot, db_path, db, library, history):
    plugin = make_plugin(db_path, db, retrain_policy="plays", retrain_after_plays=3)
    try:
        play(plugin, library[0])
        play(plugin, library[1])
        assert not plugin.training_running
        with qtbot.waitSignal(plugin.training_started, timeout=5_000):
            play(plugin, library[2])
        assert plugin.training_running
        play(plugin, library[3])  # already training: no second trainer
        plugin.training.cancel()
        assert not plugin.training_running
        assert plugin.new_plays_since_training() == 1  # counted from the last attempt on
    finally:
        plugin.shutdown()


def test_retraining_starts_when_idle(qtbot, db_path, db, library, history):
    plugin = make_plugin(db_path, db, retrain_policy="idle")
    try:
        play(plugin, library[0])
        with qtbot.waitSignal(plugin.training_started, timeout=5_000):
            plugin._idle.start(20)  # as if the idle minutes had passed
        plugin.training.cancel()
    finally:
        plugin.shutdown()


def test_no_training_starts_before_the_history_is_enough_for_a_model(qtbot, db_path, db, library):
    """Every few plays of a new listener's first days the status line said "Learning from
    your listening…", then "not enough history yet": nothing starts now."""
    plugin = make_plugin(db_path, db, retrain_policy="plays", retrain_after_plays=2)
    try:
        started: list = []
        plugin.training_started.connect(lambda: started.append(1))
        messages: list[str] = []
        plugin.status.connect(messages.append)
        for track in library * 2:
            play(plugin, track, ms=200_000)
        qtbot.wait(100)
        assert started == [] and not plugin.training_running
        assert not any("Learning" in m for m in messages), messages
        assert plugin.new_plays_since_training() == 2 * len(library)  # kept for later
    finally:
        plugin.shutdown()


def test_manual_policy_never_starts_training_by_itself(qtbot, db_path, db, library):
    plugin = make_plugin(db_path, db, retrain_policy="manual", retrain_after_plays=1)
    try:
        started: list = []
        plugin.training_started.connect(lambda: started.append(1))
        for track in library:
            play(plugin, track)
        plugin._idle.start(10)
        qtbot.wait(100)
        assert started == []
        assert plugin.retrain() is True  # "Retrain now" still works
        assert plugin.retrain() is False  # and never twice at once
        plugin.training.cancel()
    finally:
        plugin.shutdown()
