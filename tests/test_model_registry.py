"""The model registry and `segue model list|activate|rollback`; the promotion rule."""

from __future__ import annotations

import pytest

from player_plugin.recommend.model_eval import decide, holdout_start
from player_plugin.store import models as reg


def _add(db, model_id: str, state: str, created: int) -> None:
    folder = reg.models_root(db) / model_id
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    reg.add_model(
        db,
        model_id,
        folder=model_id,
        cutoff=created,
        data_size=100,
        metrics={"holdout": {"model": 0.1 * created}},
        state=state,
        created_at=created,
    )


def test_activate_is_one_switch_and_rollback_restores(db) -> None:
    _add(db, "m1", "active", 1)
    _add(db, "m2", "candidate", 2)
    assert reg.activate(db, "m2") == "m1"
    states = {r["id"]: r["state"] for r in reg.list_models(db)}
    assert states == {"m1": "retired", "m2": "active"}
    assert reg.rollback(db) == ("m2", "m1")
    states = {r["id"]: r["state"] for r in reg.list_models(db)}
    assert states == {"m1": "active", "m2": "rolled_back"}
    with pytest.raises(reg.RegistryError, match="no earlier model"):
        reg.rollback(db)
    with pytest.raises(reg.RegistryError, match="no model"):
        reg.activate(db, "nope")


def test_prune_keeps_the_newest_three_and_the_active(db) -> None:
    _add(db, "m1", "active", 1)
    for k in range(2, 6):
        _add(db, f"m{k}", "rejected", k)
    removed = reg.prune(db)
    assert sorted(removed) == ["m2", "m3"]
    assert {r["id"] for r in reg.list_models(db)} == {"m1", "m4", "m5"}
    assert not (reg.models_root(db) / "m2").exists()
    assert (reg.models_root(db) / "m1").exists()


def test_cli_model_commands(db, segue) -> None:
    _add(db, "m1", "retired", 1)
    _add(db, "m2", "active", 2)
    listed = segue("model", "list", "--json")
    assert listed.status == 0
    assert [m["id"] for m in listed.json["models"]] == ["m2", "m1"]
    assert segue("model", "activate", "m1", "--json").json == {"active": "m1", "previous": "m2"}
    assert reg.active_model(db)["id"] == "m1"
    back = segue("model", "rollback", "--json")
    assert back.json == {"active": "m2", "rolled_back": "m1"}
    bad = segue("model", "activate", "zzz")
    assert bad.status != 0 and bad.err.count("\n") == 1 and "zzz" in bad.err
    assert "m2" in segue("model", "list").out
    assert segue("model").out == segue("model", "list").out  # listing is what it does bare
    # a decision's reason that starts with the figure the line shows says it once
    reg.update_model(db, "m1", reason="NDCG@10 0.1000 on your 77 newest plays is below X")
    line = next(x for x in segue("model", "list").out.splitlines() if x.startswith("m1"))
    assert line.count("0.1000") == 1 and line.endswith(
        "NDCG@10 0.1000  on your 77 newest plays is below X"
    )
    assert "plays     100  " in line
    # a model registered without the size of its training says so, not 0
    with db.conn:
        db.conn.execute("UPDATE models SET data_size = NULL WHERE id = 'm1'")
    line = next(x for x in segue("model", "list").out.splitlines() if x.startswith("m1"))
    assert "plays       -  " in line and " 0 " not in line


def test_promotion_rule() -> None:
    base = {"plays": 40, "baselines": {"recent": 0.2, "markov": 0.3}, "best_baseline": "markov"}
    ok, why = decide({**base, "model": 0.35, "active": 0.31})
    assert ok and "0.3500" in why
    ok, why = decide({**base, "model": 0.35, "active": 0.4})
    assert not ok and "active model" in why
    ok, why = decide({**base, "model": 0.29, "active": None})
    assert not ok and "markov" in why
    assert decide({**base, "model": 0.3, "active": None})[0]  # ties promote


def test_enough_history() -> None:
    from test_model_fixtures import synthetic_plays

    assert holdout_start(synthetic_plays(300)) is None
    plays = synthetic_plays(800)
    start = holdout_start(plays)
    assert start is not None
    held = sum(p.listened for p in plays[start:])
    assert held >= 30
    assert plays[start - 1].started_at < plays[start].started_at
