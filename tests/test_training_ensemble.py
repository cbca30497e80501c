"""An ensemble (``Config.members`` > 1): members trained apart on the same examples, served
as one model through the same two graphs (vectors side by side, scores averaged)."""

from __future__ import annotations

import numpy as np
import torch
from test_model_fixtures import (
    cold_catalogue,
    synthetic_catalogue,
    synthetic_plays,
    tiny_config,
)

from player_plugin.recommend.engine import Engine
from player_plugin.recommend.model import ModelRecommender
from training.export import example_item_inputs, example_scorer_inputs, export_model
from training.loop import train
from training.model import SegueEnsemble


def _weights(module: torch.nn.Module) -> list[np.ndarray]:
    return [v.detach().numpy().copy() for v in module.state_dict().values()]


def test_members_train_apart_and_the_first_is_the_lone_model(tmp_path) -> None:
    cat, plays = synthetic_catalogue(), synthetic_plays(300)
    cfg = tiny_config(schedule="flat", epochs=1, average=0.5)
    lone = train(plays, cat, cfg)
    events: list[dict] = []
    both = train(
        plays,
        cat,
        tiny_config(schedule="flat", epochs=1, average=0.5, members=2),
        progress=events.append,
    )
    assert isinstance(both.model, SegueEnsemble)
    first, second = both.model.scorer.scorers
    for a, b in zip(_weights(first), _weights(lone.model.scorer), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b) for a, b in zip(_weights(first), _weights(second), strict=True)
    )
    # the progress counts every member's epochs; the metrics are the ensemble's own
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    assert {e["epochs"] for e in events if e["event"] == "epoch"} == {2}
    assert both.metrics["val_loss"] != lone.metrics["val_loss"]


def test_an_exported_ensemble_serves_the_mean_of_its_members(tmp_path) -> None:
    cat, plays = synthetic_catalogue(), synthetic_plays(300)
    cfg = tiny_config(schedule="flat", epochs=1, members=3)
    trained = train(plays, cat, cfg)
    model = trained.model
    assert isinstance(model, SegueEnsemble)
    folder = tmp_path / "m"
    manifest = export_model(model, cfg, trained.vocab, folder, {"model_id": "m"})
    assert manifest["dim"] == 3 * cfg.dim
    engine = Engine(folder)
    item_inputs = example_item_inputs(40, manifest["vocab_sizes"], seed=4)
    vectors = engine.item_tower(item_inputs)
    assert vectors.shape == (40, 3 * cfg.dim)
    inputs = example_scorer_inputs(2, 12, 30, 3 * cfg.dim, seed=9)
    scores, query = engine.score_parts(inputs)
    d = cfg.dim
    with torch.no_grad():
        tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
        member_scores = []
        for k, scorer in enumerate(model.scorer.scorers):
            sliced = dict(tensors)
            sliced["hist_vec"] = tensors["hist_vec"][..., k * d : (k + 1) * d]
            sliced["cand_vec"] = tensors["cand_vec"][..., k * d : (k + 1) * d]
            member_scores.append(scorer(**sliced).numpy())
        for k, tower in enumerate(model.items.towers):
            own = tower(*(torch.from_numpy(v) for v in item_inputs.values())).numpy()
            assert np.abs(vectors[:, k * d : (k + 1) * d] - own).max() <= 1e-4
    assert np.abs(scores - np.mean(member_scores, axis=0)).max() <= 1e-4
    # the engine's shortcut for tracks without history (query . vector + the shared row's
    # part) gives the numbers of scoring everything through the graph
    rec = ModelRecommender(engine)
    rec.fit(plays[:250], cold_catalogue())
    _, cold, _, _ = rec.state.cold_split()
    assert len(cold) >= 256
    np.testing.assert_allclose(rec.scores(), rec.scores_full(), rtol=1e-5, atol=1e-5)
    assert query.shape == (2, 3 * cfg.dim)
