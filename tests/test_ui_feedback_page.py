"""Settings ▸ Your feedback lists loved, never and not-now tracks as "Artist – Title", each
removable (the store forgets it, the dock may suggest it again); the execution providers
offered are local ones only (never AzureExecutionProvider)."""

from __future__ import annotations

import time

import onnxruntime as ort
import pytest
from ui_support import scanned, write_library

from player_plugin.hosts.base import MemoryHost
from player_plugin.store.feedback import add_feedback, hidden_track_ids, loved_track_ids
from player_plugin.ui.plugin import SeguePlugin
from player_plugin.ui.prefs import Prefs
from player_plugin.ui.settings_dialog import LOCAL_PROVIDERS, SettingsDialog

HOUR_MS = 3600 * 1000


@pytest.fixture
def tracks(tmp_path, db):
    root = tmp_path / "music"
    write_library(root, artists=3, per_artist=2, seconds=0.3)
    return scanned(db, root)


def test_the_feedback_page_lists_and_removes(qtbot, db, tracks):
    a, b, c, d = (int(t["id"]) for t in tracks[:4])
    add_feedback(db, a, "love")
    add_feedback(db, b, "never")
    add_feedback(db, c, "not_now", until_ms=int(time.time() * 1000) + 6 * HOUR_MS)
    add_feedback(db, d, "not_now", until_ms=1)  # expired long ago: not listed
    dialog = SettingsDialog(db, Prefs())
    qtbot.addWidget(dialog)
    page = dialog.feedback
    assert dialog.tabs.tabText(dialog.tabs.indexOf(page)) == "Your feedback"
    assert page.texts("love") == ["Artist A – Song 00"]
    assert page.texts("never") == ["Artist A – Song 01"]
    assert len(page.texts("not_now")) == 1
    assert page.texts("not_now")[0].startswith("Artist B – Song 10  (until ")
    changed = []
    page.changed.connect(lambda: changed.append(True))
    page.lists["never"].item(0).setSelected(True)
    page.removes["never"].click()
    assert b not in hidden_track_ids(db) and page.texts("never") == [] and changed
    page.lists["love"].item(0).setSelected(True)
    page.removes["love"].click()
    assert a not in loved_track_ids(db) and page.texts("love") == []
    page.lists["not_now"].item(0).setSelected(True)
    page.removes["not_now"].click()
    assert c not in hidden_track_ids(db)


def test_removing_on_the_page_lets_the_dock_suggest_it_again(qtbot, db_path, db, tracks):
    Prefs(autoplay=False, retrain_policy="manual", suggestions=5).save(db)
    plugin = SeguePlugin(MemoryHost(), db_path)
    try:
        never = int(tracks[3]["id"])
        add_feedback(db, never, "never")
        with qtbot.waitSignal(plugin.suggestions_changed, timeout=15_000):
            plugin.host.play(bytes(tracks[0]["path"]))
        assert never not in [int(i.track_id) for i in plugin.items]
        dialog = SettingsDialog(plugin.db, plugin.prefs)
        qtbot.addWidget(dialog)
        dialog.feedback.changed.connect(plugin.refresh)  # as open_settings wires it
        dialog.feedback.lists["never"].item(0).setSelected(True)
        with qtbot.waitSignal(plugin.suggestions_changed, timeout=15_000):
            dialog.feedback.removes["never"].click()
        assert never in [int(i.track_id) for i in plugin.items]
    finally:
        plugin.shutdown()


def test_only_local_execution_providers_are_offered(qtbot, db):
    dialog = SettingsDialog(db, Prefs())
    qtbot.addWidget(dialog)
    offered = [dialog.provider.itemData(i) for i in range(dialog.provider.count())]
    texts = [dialog.provider.itemText(i) for i in range(dialog.provider.count())]
    present = set(ort.get_available_providers())
    assert offered[0] == ""  # automatic
    assert set(offered[1:]) == {p for p in LOCAL_PROVIDERS if p in present}
    assert "CPUExecutionProvider" in offered
    assert not any("Azure" in t or "Azure" in str(d) for t, d in zip(texts, offered, strict=True))
    assert not any("ExecutionProvider" in t for t in texts)  # the listener's names
