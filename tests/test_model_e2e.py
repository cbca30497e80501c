"""End to end: tracks and logged plays in a store → `segue train` → suggestions."""

from __future__ import annotations

import json
import re

import pytest
from test_model_fixtures import fill_store

from player_plugin.app import retrain
from player_plugin.recommend.model import load_active
from player_plugin.store import models as reg

TINY = ["--epochs", "2", "--dim", "8", "--negatives", "16", "--hidden", "16"]


@pytest.fixture
def small_training(monkeypatch):
    """Keep `segue train`'s trainer tiny for tests."""
    real = retrain.trainer_command

    def tiny(*args, **kw):
        kw["extra"] = TINY
        return real(*args, **kw)

    monkeypatch.setattr(retrain, "trainer_command", tiny)


def test_not_enough_history(db, segue) -> None:
    fill_store(db, 100)
    out = segue("train", "--json")
    assert out.status == 0
    assert out.json["promoted"] is False and out.json["model_id"] is None
    assert "not enough history" in out.json["reason"]


def test_the_progress_lines_say_each_step(db, segue, small_training) -> None:
    """Without --json: one line a step on stderr, the comparison that decides included
    (it takes seconds after the model is saved: a silent wait looked like a hang)."""
    fill_store(db, 700)
    out = segue("train")
    assert out.status == 0, out.err
    lines = out.err.splitlines()
    assert lines[-2:] == ["segue: export…", "segue: checking the new model on your newest plays…"]


def test_a_long_history_says_which_plays_it_learns_from(db, segue, monkeypatch) -> None:
    """The trainer learns from the newest plays of a long one (``--max-targets``, 50,000
    by default): the progress says so, and how many plays before them it read."""
    real = retrain.trainer_command

    def capped(*args, **kw):
        kw["extra"] = [*TINY, "--max-targets", "300"]
        return real(*args, **kw)

    monkeypatch.setattr(retrain, "trainer_command", capped)
    fill_store(db, 700)
    out = segue("train")
    assert out.status == 0, out.err
    start = next(line for line in out.err.splitlines() if "training on" in line)
    plays = int(re.search(r"training on ([\d,]+) plays", start).group(1).replace(",", ""))
    assert f"segue: learning from your newest 300 plays (30 to check it); the {plays - 300:,}" in (
        out.err
    ), out.err


def test_a_short_history_of_skips_is_not_called_long(db, segue, monkeypatch) -> None:
    """Without skips as targets (``--other-weight 0``) fewer plays are targets than were
    read, yet none was left out for the cap: the progress counts targets, no history."""
    real = retrain.trainer_command

    def listened_only(*args, **kw):
        kw["extra"] = [*TINY, "--other-weight", "0"]
        return real(*args, **kw)

    monkeypatch.setattr(retrain, "trainer_command", listened_only)
    fill_store(db, 700)
    out = segue("train")
    assert out.status == 0, out.err
    assert "learning from your newest" not in out.err, out.err
    assert re.search(r"segue: [\d,]+ targets \([\d,]+ for validation\)", out.err), out.err


def test_train_promote_recommend(db, segue, small_training) -> None:
    fill_store(db, 700)
    out = segue("train", "--json")
    assert out.status == 0, out.err
    data = out.json
    assert set(data) == {"model_id", "promoted", "reason", "metrics", "seconds"}
    holdout = data["metrics"]["holdout"]
    assert holdout["plays"] >= 30 and "markov" in holdout["baselines"]
    progress = [json.loads(line) for line in out.err.splitlines() if line.startswith("{")]
    assert [e["epoch"] for e in progress if e["event"] == "epoch"] == [1, 2]
    assert progress[-1] == {"event": "stage", "name": "compare"}  # (seconds follow)
    assert [p["epoch"] for p in data["metrics"]["curve"]] == [1, 2]
    row = reg.get_model(db, data["model_id"])
    assert row["cutoff"] and row["metrics"]["holdout"] == holdout
    if data["promoted"]:
        assert row["state"] == "active"
        rec = load_active(db)
        assert rec is not None and rec.model_id == data["model_id"]
        assert len(rec.suggest(5)) == 5
    else:
        assert row["state"] == "rejected" and row["reason"] == data["reason"]
        assert load_active(db) is None
    # a second run right away has no new plays to be judged on
    again = segue("train", "--json")
    assert again.json["promoted"] is False
    if data["promoted"]:
        assert "since the active model" in again.json["reason"]
