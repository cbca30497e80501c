"""ModelRecommender: the recommender contract, the served scores, load_active fallbacks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from recommender_contract import check_contract, contract_catalogue, contract_history
from test_model_fixtures import (
    cold_catalogue,
    fill_store,
    synthetic_catalogue,
    synthetic_plays,
    tiny_config,
)

from player_plugin.domain.catalogue import tie_breaker
from player_plugin.domain.play import Play
from player_plugin.recommend.engine import Engine
from player_plugin.recommend.model import TIE_BREAK, ModelRecommender, load_active
from player_plugin.store import models as reg
from training.export import export_model
from training.loop import train


@pytest.fixture(scope="module")
def contract_model(tmp_path_factory):
    """A tiny model trained on the contract's own past sessions."""
    past, _ = contract_history()
    cfg = tiny_config(epochs=6, negatives=12, val_share=0.15)
    trained = train(past, contract_catalogue(), cfg)
    folder = tmp_path_factory.mktemp("contract") / "m"
    export_model(trained.model, cfg, trained.vocab, folder, {"model_id": "contract"})
    return folder


def test_contract(contract_model) -> None:
    engine = Engine(contract_model)
    rec = check_contract(lambda: ModelRecommender(engine))
    assert rec.explain(2)


def test_scores_are_the_engine_output(contract_model) -> None:
    engine = Engine(contract_model)
    rec = ModelRecommender(engine)
    past, current = contract_history()
    rec.fit(past, contract_catalogue())
    for play in current:
        rec.observe(play)
    direct = engine.score(rec.scorer_inputs())[0]
    served = rec.scores()
    # the engine's output with exact ties broken: nothing moves by more than TIE_BREAK
    np.testing.assert_allclose(served, direct, rtol=TIE_BREAK * 1.01, atol=TIE_BREAK * 1.01)
    clearly = np.abs(direct[:, None] - direct[None, :]) > 3 * TIE_BREAK * np.abs(direct).max()
    assert ((served[:, None] > served[None, :]) == (direct[:, None] > direct[None, :]))[
        clearly
    ].all()
    assert rec.model_id == "contract"


def test_tracks_the_model_cannot_tell_apart_get_a_fixed_order(contract_model) -> None:
    """Never-played tracks of one album score the same in the graph; served, they differ
    (a list needs an order), always in the same order, and not in order of their ids."""
    cat = contract_catalogue()
    twins = 40
    n = len(cat)
    cat = type(cat)(
        track_ids=np.arange(1, n + twins + 1, dtype=np.int64),
        titles=[*cat.titles, *(f"Twin {i}" for i in range(twins))],
        artist=np.concatenate([cat.artist, np.full(twins, cat.artist.max() + 1)]).astype(np.int32),
        artist_names=[*cat.artist_names, "Twin Artist"],
        album=np.concatenate([cat.album, np.full(twins, cat.album.max() + 1)]).astype(np.int32),
        album_names=[*cat.album_names, "Twin Album"],
    )
    past, _ = contract_history()
    rec = ModelRecommender(Engine(contract_model))
    rec.fit(past, cat)
    raw = rec.engine.score(rec.scorer_inputs())[0][n:]
    assert np.ptp(raw) == 0  # the graph cannot tell them apart
    served = rec.scores()[n:]
    assert len(np.unique(served)) >= twins - 2  # float32: a rare pair may still collide
    np.testing.assert_array_equal(served, rec.scores()[n:])
    order = np.argsort(-served)
    assert abs(np.corrcoef(order, np.arange(twins))[0, 1]) < 0.5
    assert (tie_breaker(np.arange(1, 10_001)) < 0.5).mean() == pytest.approx(0.5, abs=0.03)


def _register(db, folder, model_id, state, created):
    root = reg.models_root(db)
    root.mkdir(exist_ok=True)
    shutil.copytree(folder, root / model_id)
    reg.add_model(
        db,
        model_id,
        folder=model_id,
        cutoff=1,
        data_size=10,
        metrics={},
        state=state,
        created_at=created,
    )
    return root / model_id


@pytest.fixture(scope="module")
def store_model(tmp_path_factory):
    cfg = tiny_config()
    trained = train(synthetic_plays(300), synthetic_catalogue(), cfg)
    folder = tmp_path_factory.mktemp("store") / "m"
    export_model(trained.model, cfg, trained.vocab, folder, {"model_id": "x"})
    return folder


def test_load_active_serves_the_active_model(db, store_model) -> None:
    fill_store(db, 80)
    assert load_active(db) is None  # no model yet: the baselines serve
    _register(db, store_model, "a1", "active", 2)
    rec = load_active(db)
    assert isinstance(rec, ModelRecommender)
    assert len(rec.history) == 80 and rec.scores().shape == (72,)


def test_load_active_falls_back_to_previous_then_baselines(db, store_model, caplog) -> None:
    fill_store(db, 50)
    _register(db, store_model, "old", "retired", 1)
    active = _register(db, store_model, "new", "active", 2)
    (active / "scorer.onnx").write_bytes(b"corrupt")
    rec = load_active(db)
    assert rec is not None and rec.engine.folder.name == "old"
    assert any("new" in r.getMessage() and "corrupt" in r.getMessage() for r in caplog.records)
    shutil.rmtree(reg.models_root(db) / "old")
    assert load_active(db) is None


def test_fast_scores_match_scoring_everything(store_model) -> None:
    """Items without history share feature rows; the shortcut gives the same numbers."""
    cat = cold_catalogue()  # 600 never-played tracks by never-played artists
    rec = ModelRecommender(Engine(store_model))
    plays = synthetic_plays(200)
    rec.fit(plays[:100], cat)
    for play in plays[100:130]:
        rec.observe(play)
        _, cold, _, _ = rec.state.cold_split()
        assert len(cold) >= 256
        np.testing.assert_allclose(rec.scores(), rec.scores_full(), rtol=1e-5, atol=1e-5)
    cold_features = rec.state.item_features(cold)
    _, _, rows, inverse = rec.state.cold_split()
    np.testing.assert_array_equal(cold_features, rows[inverse])
    rec.fit([], cat)  # no plays: every item cold, and still the same numbers
    np.testing.assert_allclose(rec.scores(), rec.scores_full(), rtol=1e-5, atol=1e-5)


def test_provider_setting_and_status(db, store_model, caplog) -> None:
    from player_plugin.recommend.model import PROVIDER_SETTING, model_status
    from player_plugin.store.settings import set_setting

    assert model_status(db) == {"serving": "baselines", "model_id": None, "provider": None}
    fill_store(db, 40)
    _register(db, store_model, "a1", "active", 2)
    set_setting(db, PROVIDER_SETTING, "CoreML")  # not in this onnxruntime build
    status = model_status(db)
    assert status["serving"] == "model" and status["provider"] == "CPUExecutionProvider"
    assert any("CoreML" in r.getMessage() for r in caplog.records)


def test_a_replay_right_away_is_said_so_not_that_a_track_follows_itself(contract_model) -> None:
    rec = ModelRecommender(Engine(contract_model))
    t0, day = 1_700_000_000_000, 86_400_000
    plays = [Play(3, t0), Play(3, t0 + 60_000), Play(5, t0 + 120_000), Play(3, t0 + day)]
    rec.fit(plays, contract_catalogue())
    assert rec.explain(3) == "you often play it twice in a row"
    assert rec.explain(5).startswith("often follows ")  # 3 -> 5 before, 3 played last
