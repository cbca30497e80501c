"""The model report opens on a trained model (trained here by the real trainer): metrics
beside the baselines' as bars, the training curve, data size, the history of models, and a
rollback button that really rolls back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from PySide6.QtCharts import QBarSeries, QLineSeries

from player_plugin.app.demo import build_demo, demo_paths
from player_plugin.domain import training_events as ev
from player_plugin.store.db import open_db
from player_plugin.store.models import activate, active_model, add_model, curve_points
from player_plugin.ui.model_report import ModelReport
from player_plugin.ui.report_data import find_methods


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A demo store and one model trained on it by ``python -m training``; its events."""
    folder = tmp_path_factory.mktemp("report") / "demo"
    build_demo(folder, tracks_per_album=1, seconds=(2.0, 2.5))
    db_path = demo_paths(folder)[1]
    out = db_path.parent / "models" / "20260101-000000"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "training",
            "--db",
            str(db_path),
            "--out",
            str(out),
            "--epochs",
            "3",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return db_path, out, events


def recorded_curve(events):
    """The curve as `segue train` records it in the registry (app.retrain)."""
    return curve_points(e for e in map(ev.from_dict, events) if isinstance(e, ev.Epoch))


def register(db, model_id, folder, events, holdout):
    final = events[-1]
    add_model(
        db,
        model_id,
        folder=folder.name,
        cutoff=1_760_000_000_000,
        data_size=events[0]["plays"],
        metrics={
            "validation": final["metrics"],
            "holdout": holdout,
            "curve": recorded_curve(events),
        },
        created_at=1_760_000_000_000 + len(model_id),
    )
    activate(db, model_id)


HOLDOUT = {  # the shape `segue train` records (recommend.model_eval.compare_on_holdout)
    "plays": 57,
    "model": 0.22,
    "active": None,
    "baselines": {"session-knn": 0.19, "most-played": 0.1},
    "best_baseline": "session-knn",
}


def test_report_without_a_model_explains_the_baselines(qtbot, db_path, db):
    report = ModelReport(db_path)
    qtbot.addWidget(report)
    assert "No model yet" in report.summary.text()
    assert "baselines" in report.summary.text()
    assert not report.rollback_button.isEnabled()
    assert report.table.rowCount() == 0


def test_report_on_trained_models_and_rollback(qtbot, trained, tmp_path):
    src_db, model_dir, events = trained
    db_path = tmp_path / "segue.db"
    shutil.copy(src_db, db_path)
    models = tmp_path / "models"
    shutil.copytree(model_dir, models / "m-first")
    shutil.copytree(model_dir, models / "m-second")
    db = open_db(db_path)
    try:
        register(db, "m-first", models / "m-first", events, HOLDOUT)
        better = {**HOLDOUT, "model": 0.3, "active": 0.22}
        register(db, "m-second", models / "m-second", events, better)
    finally:
        db.close()

    report = ModelReport(db_path)
    qtbot.addWidget(report)
    report.show()
    text = report.summary.text()
    assert "m-second" in text and f"{events[0]['plays']:,} plays" in text
    assert "beats the best baseline (session-knn)" in text
    assert "57 newest plays" in text
    bars = [s for s in report.metrics_view.chart().series() if isinstance(s, QBarSeries)]
    assert len(bars) == 1 and len(bars[0].barSets()) == 1
    values = [bars[0].barSets()[0].at(i) for i in range(bars[0].barSets()[0].count())]
    assert values == pytest.approx([0.3, 0.22, 0.19, 0.1])  # model, previous, baselines
    assert report.data.methods.keys() == {"model", "model (previous)", "session-knn", "most-played"}
    curves = [s for s in report.curve_view.chart().series() if isinstance(s, QLineSeries)]
    epochs = [e for e in events if e.get("event") == "epoch"]
    assert curves and curves[0].count() == len(epochs)
    assert report.table.rowCount() == 2
    assert "serving" in report.table.item(0, 3).text()
    assert "retired" in report.table.item(1, 3).text()
    assert report.rollback_button.isEnabled()

    with qtbot.waitSignal(report.rolled_back):
        assert report.rollback(confirm=False)
    db = open_db(db_path)
    try:
        assert active_model(db)["id"] == "m-first"
    finally:
        db.close()
    assert "m-first" in report.summary.text()
    states = {report.table.item(r, 0).text(): report.table.item(r, 3).text() for r in range(2)}
    assert states == {"m-second": "rolled back", "m-first": "serving"}
    assert not report.rollback_button.isEnabled()  # nothing older to go back to


def test_methods_are_found_in_any_metrics_shape():
    evaluate_style = {
        "methods": {
            "model": {"all": {"hr@10": 0.3}, "new": {"hr@10": 0.1}},
            "markov": {"all": {"hr@10": 0.2}},
        }
    }
    assert find_methods(evaluate_style) == {"model": {"hr@10": 0.3}, "markov": {"hr@10": 0.2}}
    assert find_methods({"validation": {"val_loss": 2.0}}) == {}
