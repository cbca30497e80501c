"""The listener's language: what the status bar and the wizard say after training speaks
music — no "baseline", NDCG or method names (those stay in the report's Advanced section
and in `segue train --json`)."""

from __future__ import annotations

import shutil

import audio_fixtures

from player_plugin.app.retrain import RetrainResult
from player_plugin.app.source import Source
from player_plugin.domain.training_events import Data, Epoch, Stage, Start
from player_plugin.domain.words import count
from player_plugin.hosts.base import MemoryHost
from player_plugin.hosts.external import parse_host
from player_plugin.ui.plugin import SeguePlugin

audio_files = audio_fixtures.audio_files  # the session fixture

MACHINE_WORDS = ("baseline", "ndcg", "session-knn", "markov", "most-played", "mrr")
REASON = "NDCG@10 0.5219 on your 77 newest plays is below the markov baseline's 0.5424"


def test_a_training_summary_speaks_music():
    kept = RetrainResult("m1", False, REASON).summary()
    promoted = RetrainResult("m2", True, "NDCG@10 0.6 beats session-knn's 0.5").summary()
    for line in (kept, promoted):
        assert not any(word in line.lower() for word in MACHINE_WORDS), line
    assert "newest plays" in kept and "stay as they are" in kept
    assert "suggests from now on" in promoted
    none = RetrainResult(None, False, "not enough history yet: 12 listened plays").summary()
    assert none == "No model trained: not enough history yet: 12 listened plays."


def test_a_model_whose_plays_are_not_known_is_not_said_to_have_learnt_from_none():
    assert Source("model", "m1", 12_400).words == "from your model, trained on 12,400 plays"
    assert Source("model", "m1", 1).words == "from your model, trained on 1 play"
    assert Source("model", "m1").words == "from your model"  # registered without a size


def test_the_status_bar_speaks_music_while_the_model_learns(qtbot, db_path, db):
    """What the status bar says as a training starts, progresses, is cancelled or fails:
    no epochs, exports or "training" jargon (the model report keeps those)."""
    plugin = SeguePlugin(MemoryHost(), db_path)
    said: list[str] = []
    plugin.status.connect(said.append)
    try:
        plugin._training_progress(Start(1_000_000, 100_000, None, False))
        plugin._training_progress(Data(50_000, 45_000, 5_000, 91.9))
        plugin._training_progress(Epoch(2, 12, 9.1, 9.0, 0.1, eta_s=31.6))
        plugin._training_progress(Stage("export"))
        plugin._training_progress(Stage("compare"))
        plugin._training_done(None, "training cancelled")
        plugin._training_done(None, "not enough history yet: 12 listened plays")
    finally:
        plugin.shutdown()
    lines = [line for line in said if "listening" in line]
    assert lines == [
        "Learning from your listening: reading your 1,000,000 plays…",
        "Learning from your listening: first pass over 50,000 plays…",
        "Learning from your listening: pass 2, about 32 s left",
        "Learning from your listening: saving what it learned…",
        "Learning from your listening: checking it against your newest plays…",
        "Stopped learning from your listening; suggestions stay as they were",
        "Could not learn from your listening: not enough history yet: 12 listened plays",
    ], said
    jargon = ("epoch", "export", "training:", "model")
    assert not any(word in line.lower() for line in lines for word in jargon), lines


def test_counts_take_the_number_they_name(segue, audio_files, tmp_path):
    """One play is "1 play", never "1 plays": the shared counting, and the CLI lines that
    once said "1 errors", "1 plays deleted" and "0 plays (0 unmatched), - to -"."""
    assert count(1, "play") == "1 play"
    assert count(0, "play") == "0 plays"
    assert count(12_400, "track") == "12,400 tracks"
    assert count(1, "file could not be read", "files could not be read").startswith("1 file ")
    assert count(2, "match", "matches") == "2 matches"
    music = tmp_path / "music"
    music.mkdir()
    track = shutil.copy2(audio_files["flac"], music / audio_files["flac"].name)
    assert segue("scan", music).status == 0
    assert segue("plays", "status").out.strip() == "no plays yet; logging on"
    assert segue("log-play", track, "--played-ms", "200000").status == 0
    one = segue("plays", "status").out
    assert one.startswith("1 play (0 unmatched), ") and "logging on" in one, one
    assert segue("plays", "delete", "--all").out.strip() == "1 play deleted"


def test_the_player_followed_is_named_as_the_listener_names_it():
    """`segue listen` says what it follows in words, not its lock label ("mpris:any")."""
    assert parse_host("mpris").words == "whichever MPRIS player plays"
    assert parse_host("mpris:strawberry").words == "strawberry over MPRIS"
    assert parse_host("mpd:192.168.1.5:6601").words == "MPD at 192.168.1.5:6601"
    assert parse_host("mpris").label == "mpris:any"  # the lock's name is unchanged
