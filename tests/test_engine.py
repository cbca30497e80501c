"""The engine: manifest and file checks, provider choice and every fallback."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from test_model_fixtures import synthetic_catalogue, trained_model

from player_plugin.recommend import features as F
from player_plugin.recommend.engine import (
    CPU,
    Engine,
    ModelError,
    available_providers,
    choose_provider,
    load_first,
    provider_name,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return trained_model(tmp_path_factory.mktemp("engine"))


@pytest.fixture
def copy(model_dir, tmp_path):
    def make(name: str = "m"):
        return shutil.copytree(model_dir, tmp_path / name)

    return make


def test_loads_and_scores(model_dir) -> None:
    engine = Engine(model_dir)
    assert engine.provider == CPU
    cat = synthetic_catalogue()
    vectors = engine.item_vectors(cat)
    assert vectors.shape == (len(cat), engine.dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()


def test_new_tracks_get_vectors_without_retraining(model_dir) -> None:
    engine = Engine(model_dir)
    cat = synthetic_catalogue()
    before = engine.item_vectors(cat)
    bigger = synthetic_catalogue()
    bigger.track_ids = np.concatenate([cat.track_ids, [999]])
    bigger.titles = [*cat.titles, "New song"]
    bigger.artist = np.concatenate([cat.artist, [1]]).astype(np.int32)
    bigger.album = np.concatenate([cat.album, [1]]).astype(np.int32)
    for name in ("genre", "year", "duration_ms"):
        setattr(bigger, name, np.concatenate([getattr(cat, name), [0]]).astype(np.int32))
    after = engine.item_vectors(bigger)
    np.testing.assert_array_equal(after[:-1], before)
    # the unplayed track of artist 1 is content only: artist + album, no ID
    assert not np.allclose(after[-1], 0)


def test_wrong_schema_is_refused(copy) -> None:
    folder = copy()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["feature_schema_version"] = F.FEATURE_SCHEMA_VERSION + 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="schema"):
        Engine(folder)


def test_other_feature_layout_is_refused(copy) -> None:
    folder = copy()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["item_features"] = manifest["item_features"][:-1]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError):
        Engine(folder)


@pytest.mark.parametrize("name", ["scorer.onnx", "item_tower.onnx", "vocab.json"])
def test_corrupt_file_is_refused(copy, name: str) -> None:
    folder = copy()
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt"):
        Engine(folder)


def test_truncated_or_missing_files_are_refused(copy) -> None:
    folder = copy()
    (folder / "scorer.onnx").write_bytes(b"")
    with pytest.raises(ModelError):
        Engine(folder)
    (folder / "scorer.onnx").unlink()
    with pytest.raises(ModelError, match="missing"):
        Engine(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        Engine(folder)


def test_garbage_onnx_with_matching_checksum_is_refused(copy) -> None:
    """A file that is not ONNX at all (checksums recomputed) still fails cleanly."""
    import hashlib

    folder = copy()
    (folder / "scorer.onnx").write_bytes(b"this is not a model")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sha256"]["scorer"] = hashlib.sha256(b"this is not a model").hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="cannot be loaded"):
        Engine(folder)


def test_missing_provider_falls_back_to_cpu_with_one_line(model_dir, caplog) -> None:
    missing = next(
        p
        for p in ("CoreML", "DirectML", "ROCm", "OpenVINO", "CUDA")
        if provider_name(p) not in available_providers()
    )
    with caplog.at_level(logging.WARNING, logger="player_plugin.recommend.engine"):
        engine = Engine(model_dir, provider=missing)
    assert engine.provider == CPU
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and missing in lines[0] and "CPU" in lines[0]


def test_provider_names() -> None:
    assert provider_name("cuda") == "CUDAExecutionProvider"
    assert provider_name("CPU") == CPU
    assert choose_provider(None) == CPU
    assert choose_provider("cpu") == CPU


def test_load_first_falls_back_to_the_previous_model(copy, caplog) -> None:
    broken, good = copy("new"), copy("old")
    (broken / "scorer.onnx").write_bytes(b"broken")
    with caplog.at_level(logging.WARNING):
        engine = load_first([broken, good])
    assert engine is not None and engine.folder == good
    assert any("new" in r.getMessage() for r in caplog.records)
    (good / "manifest.json").unlink()
    assert load_first([broken, good]) is None
