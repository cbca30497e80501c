"""Export parity: PyTorch and onnxruntime agree on fresh random inputs of other sizes."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from test_model_fixtures import trained_model

from player_plugin.recommend import features as F
from player_plugin.recommend.engine import Engine
from training.export import example_item_inputs, example_scorer_inputs, export_model
from training.loop import train
from training.model import Config, SegueEnsemble, SegueModel


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A freshly initialised model (random weights) exported, with its torch twin."""
    torch.manual_seed(3)
    cfg = Config(dim=8, hidden=16, feat_hidden=8)
    vocab = F.Vocab(
        items={10: 1, 11: 2, 12: 3}, artists={"a": 1, "b": 2}, albums={"x": 1}, genres={"rock": 1}
    )
    model = SegueModel(vocab.sizes(), cfg).eval()
    folder = tmp_path_factory.mktemp("export") / "m"
    manifest = export_model(model, cfg, vocab, folder, {"model_id": "m", "cutoff_ms": 5})
    return model, Engine(folder), manifest, folder


@pytest.mark.parametrize("n", [1, 4, 257])
def test_item_tower_parity(exported, n: int) -> None:
    model, engine, _, _ = exported
    inputs = example_item_inputs(n, engine.manifest["vocab_sizes"], seed=n)
    with torch.no_grad():
        expected = model.items(*(torch.from_numpy(v) for v in inputs.values())).numpy()
    got = engine.item_tower(inputs)
    assert got.shape == (n, 8)
    assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.parametrize(("b", "length", "n"), [(1, 20, 100), (3, 5, 7), (2, 1, 1), (4, 33, 64)])
def test_scorer_parity(exported, b: int, length: int, n: int) -> None:
    model, engine, _, _ = exported
    inputs = example_scorer_inputs(b, length, n, 8, seed=b * 100 + length)
    with torch.no_grad():
        expected = model.scorer(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()
    got, query = engine.score_parts(inputs)
    assert got.shape == (b, n)
    assert np.abs(got - expected).max() <= 1e-4
    with torch.no_grad():
        _, expected_query = model.scorer.parts(
            **{k: torch.from_numpy(v) for k, v in inputs.items()}
        )
    assert np.abs(query - expected_query.numpy()).max() <= 1e-4


def test_trained_model_parity(tmp_path) -> None:
    """Trained weights too (not only the initialisation)."""
    from test_model_fixtures import synthetic_catalogue, synthetic_plays, tiny_config

    cfg = tiny_config()
    trained = train(synthetic_plays(200), synthetic_catalogue(), cfg)
    folder = tmp_path / "m"
    export_model(trained.model, cfg, trained.vocab, folder, {"model_id": "m"})
    engine = Engine(folder)
    inputs = example_scorer_inputs(2, 12, 30, cfg.dim, seed=9)
    with torch.no_grad():
        expected = trained.model.scorer(
            **{k: torch.from_numpy(v) for k, v in inputs.items()}
        ).numpy()
    assert np.abs(engine.score(inputs) - expected).max() <= 1e-4


def test_manifest_contents(exported) -> None:
    _, _, manifest, folder = exported
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["opset"] >= 17
    assert manifest["scorer_layout"] == 2  # the fused form: no Einsum, one MatMul fewer
    ops = [node.op_type for node in onnx.load(str(folder / "scorer.onnx")).graph.node]
    assert "Einsum" not in ops and ops.count("MatMul") == 3, ops
    assert manifest["feature_schema_version"] == F.FEATURE_SCHEMA_VERSION
    assert manifest["inputs"]["scorer"][0] == "hist_vec"
    assert manifest["outputs"] == {"item_tower": ["item_vec"], "scorer": ["scores", "query"]}
    assert manifest["cutoff_ms"] == 5
    assert set(manifest["sha256"]) == {"item_tower", "scorer", "vocab"}
    vocab = json.loads((folder / "vocab.json").read_text())
    assert vocab["items"] == [10, 11, 12]


def test_model_files_are_small(tmp_path) -> None:
    folder = trained_model(tmp_path)
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 5 * 1024 * 1024


@pytest.mark.parametrize("members", [1, 3])
def test_the_exported_form_computes_the_trained_one(members: int) -> None:
    """The scorer is exported in a fused form (:meth:`Scorer.serving_parts`): the same
    scores and queries as the form it trains in, every weight non-zero (the session's
    shift and gate start at zero), the skip of the two-tower part included."""
    torch.manual_seed(members)
    cfg = Config(dim=8, hidden=16, feat_hidden=12)
    vocab = F.Vocab(items={10: 1}, artists={"a": 1}, albums={"x": 1}, genres={"rock": 1})
    parts = [SegueModel(vocab.sizes(), cfg) for _ in range(members)]
    model = parts[0] if members == 1 else SegueEnsemble(parts, cfg)
    with torch.no_grad():
        for weight in model.scorer.parameters():
            weight.normal_(0.0, 0.3)
    model.eval()
    inputs = example_scorer_inputs(3, 9, 40, 8 * members, seed=members)
    tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
    for tower_weight in (1.0, 0.0):
        for member in parts:
            member.scorer.tower_weight = tower_weight
        with torch.no_grad():
            trained = model.scorer.parts(**tensors)
            served = model.scorer.serving_parts(**tensors)
        assert float(trained[0].abs().max()) > 0.5  # a real spread of scores
        for a, b in zip(trained, served, strict=True):
            assert a.shape == b.shape
            assert float((a - b).abs().max()) <= 1e-5


def test_a_model_exported_before_the_fused_form_still_serves(tmp_path, monkeypatch) -> None:
    """Models on disk from before (the scorer laid out as trained, no ``scorer_layout`` in
    the manifest) load and score as the fused export of the same weights does."""
    torch.manual_seed(5)
    cfg = Config(dim=8, hidden=16, feat_hidden=12)
    vocab = F.Vocab(items={10: 1}, artists={"a": 1}, albums={"x": 1}, genres={"rock": 1})
    model = SegueModel(vocab.sizes(), cfg)
    with torch.no_grad():
        for weight in model.scorer.parameters():
            weight.normal_(0.0, 0.3)
    model.eval()
    export_model(model, cfg, vocab, tmp_path / "fused", {"model_id": "fused"})
    monkeypatch.setattr(
        "training.export._Scorer.forward", lambda self, *inputs: self.scorer.parts(*inputs)
    )
    export_model(model, cfg, vocab, tmp_path / "before", {"model_id": "before"})
    manifest_path = tmp_path / "before" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["scorer_layout"]
    manifest_path.write_text(json.dumps(manifest))
    ops = [n.op_type for n in onnx.load(str(tmp_path / "before" / "scorer.onnx")).graph.node]
    assert "Einsum" in ops  # laid out as trained
    inputs = example_scorer_inputs(2, 7, 50, 8, seed=11)
    fused, fused_query = Engine(tmp_path / "fused").score_parts(inputs)
    before, before_query = Engine(tmp_path / "before").score_parts(inputs)
    assert float(np.abs(before).max()) > 0.5
    assert np.abs(fused - before).max() <= 1e-5
    assert np.abs(fused_query - before_query).max() <= 1e-6
