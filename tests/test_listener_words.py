"""The listener's language: what the status bar and the wizard say after training speaks
music — no "baseline", NDCG or method names (those stay in the report's Advanced section
and in `segue train --json`)."""

from __future__ import annotations

from player_plugin.app.retrain import RetrainResult

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
