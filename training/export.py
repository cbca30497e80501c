"""ONNX export (opset 17) of the two serving graphs, and the JSON manifest beside them.

``item_tower.onnx`` maps item inputs to item vectors (run once per catalogue, cached by the
engine); ``scorer.onnx`` maps the session inputs plus every candidate's vector and history
features to scores (run per request). Both are exported with batch ≥ 2 and every varying
length declared dynamic, so any batch, history length or catalogue size works.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from player_plugin.recommend import features as F
from training.model import ITEM_INPUTS, SCORER_INPUTS, Config, SegueEnsemble, SegueModel

Model = SegueModel | SegueEnsemble

OPSET = 17
FORMAT = "segue-model/1"
SCORER_LAYOUT = 2  # the scorer graph's layout (the manifest's "scorer_layout"): 2 = the
# fused serving form (Scorer.serving_parts); models without the key are laid out as trained


class _Items(nn.Module):
    def __init__(self, model: Model) -> None:
        super().__init__()
        self.tower = model.items

    def forward(self, item_id, artist, album, genre, year, duration, audio, audio_mask):
        return self.tower(item_id, artist, album, genre, year, duration, audio, audio_mask)


class _Scorer(nn.Module):
    def __init__(self, model: Model) -> None:
        super().__init__()
        self.scorer = model.scorer

    def forward(self, hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat):
        return self.scorer.serving_parts(
            hist_vec, hist_outcome, hist_gap, context, cand_vec, cand_feat
        )


def example_item_inputs(n: int, sizes: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "item_id": rng.integers(0, sizes["items"], n).astype(np.int64),
        "artist": rng.integers(0, sizes["artists"], n).astype(np.int64),
        "album": rng.integers(0, sizes["albums"], n).astype(np.int64),
        "genre": rng.integers(0, sizes["genres"], n).astype(np.int64),
        "year": rng.integers(0, F.N_YEARS, n).astype(np.int64),
        "duration": rng.integers(0, F.N_DURATIONS, n).astype(np.int64),
        "audio": rng.normal(size=(n, F.AUDIO_DIM)).astype(np.float32),
        "audio_mask": (rng.random((n, 1)) < 0.5).astype(np.float32),
    }


def example_scorer_inputs(
    b: int, length: int, n: int, dim: int, seed: int = 0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    outcome = rng.integers(0, F.N_OUTCOMES, (b, length)).astype(np.int64)
    outcome[:, -1] = F.HistoryCode.LISTENED
    return {
        "hist_vec": rng.normal(scale=0.2, size=(b, length, dim)).astype(np.float32),
        "hist_outcome": outcome,
        "hist_gap": rng.integers(0, F.N_GAPS, (b, length)).astype(np.int64),
        "context": rng.normal(size=(b, F.N_CONTEXT)).astype(np.float32),
        "cand_vec": rng.normal(scale=0.2, size=(b, n, dim)).astype(np.float32),
        "cand_feat": rng.random((b, n, F.N_ITEM_FEATURES)).astype(np.float32),
    }


def _export(
    module: nn.Module, args: dict, path: Path, names: tuple, outputs: list, axes: dict
) -> None:
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # the exporter's notes about GRU batch sizes and tracing: the parity tests cover
        # other batch sizes, lengths and catalogue sizes
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(torch.from_numpy(args[k]) for k in names),
            str(path),
            input_names=list(names),
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def warm_up() -> None:
    """Load ahead of time what the first export loads: the ``onnx`` package (the exporter
    reads each graph back with it), most of a second, spent while the model trains (see
    ``training/__main__.py``). Failing here changes nothing: the export says why."""
    with contextlib.suppress(Exception):
        importlib.import_module("onnx")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_model(model: Model, cfg: Config, vocab: F.Vocab, folder: Path, meta: dict) -> dict:
    """Write both graphs and ``manifest.json`` (last) into *folder*; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = vocab.sizes()
    dim = cfg.dim * (len(model.scorer.scorers) if isinstance(model, SegueEnsemble) else 1)
    item_axes = {k: {0: "n"} for k in ITEM_INPUTS} | {"item_vec": {0: "n"}}
    _export(
        _Items(model),
        example_item_inputs(3, sizes),
        folder / "item_tower.onnx",
        ITEM_INPUTS,
        ["item_vec"],
        item_axes,
    )
    scorer_axes = {
        "hist_vec": {0: "batch", 1: "length"},
        "hist_outcome": {0: "batch", 1: "length"},
        "hist_gap": {0: "batch", 1: "length"},
        "context": {0: "batch"},
        "cand_vec": {0: "batch", 1: "n"},
        "cand_feat": {0: "batch", 1: "n"},
        "scores": {0: "batch", 1: "n"},
        "query": {0: "batch"},
    }
    _export(
        _Scorer(model),
        example_scorer_inputs(2, F.SEQ_LEN, 5, dim),
        folder / "scorer.onnx",
        SCORER_INPUTS,
        ["scores", "query"],
        scorer_axes,
    )
    (folder / "vocab.json").write_text(json.dumps(vocab.to_json(), ensure_ascii=False))
    files = {"item_tower": "item_tower.onnx", "scorer": "scorer.onnx", "vocab": "vocab.json"}
    manifest = {
        "format": FORMAT,
        "feature_schema_version": F.FEATURE_SCHEMA_VERSION,
        "created_at": int(time.time() * 1000),
        "opset": OPSET,
        "scorer_layout": SCORER_LAYOUT,
        "dim": dim,
        "seq_len": F.SEQ_LEN,
        "audio_dim": F.AUDIO_DIM,
        "item_features": list(F.ITEM_FEATURES),
        "context_features": list(F.CONTEXT_FEATURES),
        "history_codes": list(F.HISTORY_CODE_NAMES),
        "vocab_keys": F.VOCAB_KEYS,
        "inputs": {"item_tower": list(ITEM_INPUTS), "scorer": list(SCORER_INPUTS)},
        "outputs": {"item_tower": ["item_vec"], "scorer": ["scores", "query"]},
        "vocab_sizes": sizes,
        "files": files,
        "sha256": {k: _sha256(folder / v) for k, v in files.items()},
        "config": cfg.to_json(),
        **meta,
    }
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(folder / "manifest.json")
    return manifest
