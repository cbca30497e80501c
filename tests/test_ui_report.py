"""The model report opens on a trained model (trained here by the real trainer): metrics
beside the baselines' as bars, the training curve, data size, the history of models, and a
rollback button that really rolls back."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys

import pytest
from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QLineSeries, QScatterSeries
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from player_plugin.app.demo import build_demo, demo_paths
from player_plugin.app.settings import Settings
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


def register(db, model_id, folder, events, holdout, *, sized=True):
    final = events[-1]
    add_model(
        db,
        model_id,
        folder=folder.name,
        cutoff=1_760_000_000_000,
        data_size=events[0]["plays"] if sized else None,
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


MACHINE_WORDS = ("baseline", "ndcg", "session-knn", "markov", "most-played", "mrr", "hr@")


def main_view_text(report) -> str:
    """Every word the report's main view shows (Advanced closed)."""
    chart = report.plain_view.chart()
    words = [report.summary.text(), chart.title(), report.advanced_button.text()]
    for axis in chart.axes():
        words += getattr(axis, "categories", lambda: [])()
    headers = report.table.horizontalHeader()
    for col in range(report.table.columnCount()):
        if not headers.isSectionHidden(col):
            words.append(report.table.horizontalHeaderItem(col).text())
            words += [report.table.item(r, col).text() for r in range(report.table.rowCount())]
    return " ".join(words)


def test_report_without_a_model_explains_in_music_words(qtbot, db_path, db):
    report = ModelReport(db_path)
    qtbot.addWidget(report)
    assert "No model yet" in report.summary.text()
    assert "after 500 more listened plays" in report.summary.text()
    assert "picked from your library to start with" in report.summary.text()
    assert not any(w in main_view_text(report).lower() for w in MACHINE_WORDS)
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
    assert f"from your model, trained on {events[0]['plays']:,} plays" in text
    # the main view: your model vs your listening habits, in plain words
    assert (
        "On your 57 newest plays, which it had not learnt from, your model guessed what you "
        "played next 58% better than your listening habits alone." in text  # 0.3 vs 0.19
    )
    plain = report.plain_view.chart().axes(Qt.Orientation.Horizontal)[0].categories()
    assert plain == ["Your model", "Your previous model", "Your listening habits"]
    assert not any(w in main_view_text(report).lower() for w in MACHINE_WORDS)
    assert not report.advanced.isVisible()
    # Advanced: the figures by name and every method
    report.advanced_button.click()
    assert report.advanced.isVisible() and not report.table.isColumnHidden(4)
    assert "beats the best baseline (session-knn)" in report.details.text()
    assert "NDCG@10" in report.metrics_view.chart().title()
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


def test_the_report_and_the_dock_agree_on_what_serves(qtbot, trained, tmp_path):
    from player_plugin.hosts.base import MemoryHost
    from player_plugin.ui.plugin import SeguePlugin

    src_db, model_dir, events = trained
    db_path = tmp_path / "segue.db"
    shutil.copy(src_db, db_path)
    shutil.copytree(model_dir, tmp_path / "models" / "m-one")

    def both() -> tuple[str, str]:
        plugin = SeguePlugin(MemoryHost(), db_path)
        dock = plugin.make_dock()
        qtbot.addWidget(dock)
        try:
            track = bytes(plugin.db.execute("SELECT path FROM tracks LIMIT 1").fetchone()[0])
            with qtbot.waitSignal(plugin.suggestions_changed, timeout=30_000):
                plugin.host.play(track)
            header = dock.header.text()
        finally:
            plugin.shutdown()
        # the shut-down plugin is garbage in reference cycles: collected here, on the GUI
        # thread, not by whichever pool thread happens to trigger a collection during the
        # second call (as conftest does after each test; the player makes one plugin)
        del plugin
        gc.collect()
        report = ModelReport(db_path)
        qtbot.addWidget(report)
        return header, report.summary.text()

    header, summary = both()  # no model: the listener's patterns serve
    assert header.endswith("from your listening patterns")
    assert "from your listening patterns" in summary
    db = open_db(db_path)
    try:
        register(db, "m-one", tmp_path / "models" / "m-one", events, HOLDOUT)
    finally:
        db.close()
    header, summary = both()
    words = f"from your model, trained on {events[0]['plays']:,} plays"
    assert header.endswith(words) and words in summary


DIAL = [  # the shape recommend.model_eval.DialProbe records on the held-out plays
    {"dial": 0.0, "ndcg@10": 0.20, "new_share": 0.0},
    {"dial": 0.25, "ndcg@10": 0.22, "new_share": 0.1},
    {"dial": 0.5, "ndcg@10": 0.20, "new_share": 0.2},
    {"dial": 0.75, "ndcg@10": 0.10, "new_share": 0.6},
    {"dial": 1.0, "ndcg@10": 0.02, "new_share": 1.0},
]


def one_model_report(
    qtbot, trained, tmp_path, model_id, holdout=HOLDOUT, *, sized=True, settings=None
):
    """The report on a copy of the trained store where *model_id* alone is registered
    (active, with *holdout*; its training's size unknown unless *sized*)."""
    src_db, model_dir, events = trained
    db_path = tmp_path / "segue.db"
    shutil.copy(src_db, db_path)
    shutil.copytree(model_dir, tmp_path / "models" / model_id)
    db = open_db(db_path)
    try:
        register(db, model_id, tmp_path / "models" / model_id, events, holdout, sized=sized)
        if settings is not None:
            settings.save(db)
    finally:
        db.close()
    report = ModelReport(db_path)
    qtbot.addWidget(report)
    return report


def test_the_dial_is_plotted_with_the_listeners_setting(qtbot, trained, tmp_path):
    report = one_model_report(
        qtbot,
        trained,
        tmp_path,
        "m-dial",
        {**HOLDOUT, "dial": DIAL},
        settings=Settings(variety=0.375),
    )
    assert not report.dial_view.isHidden()
    chart = report.dial_view.chart()
    lines = [s for s in chart.series() if isinstance(s, QLineSeries)]
    assert [s.name() for s in lines] == ["found your next play", "new to you"]
    found = [(p.x(), round(p.y(), 3)) for p in lines[0].points()]
    assert found == [(0.0, 90.909), (0.25, 100.0), (0.5, 90.909), (0.75, 45.455), (1.0, 9.091)]
    assert [p.y() for p in lines[1].points()] == [0.0, 10.0, 20.0, 60.0, 100.0]
    (mark,) = [s for s in chart.series() if isinstance(s, QScatterSeries)]
    (point,) = mark.points()
    assert point.x() == 0.375 and round(point.y(), 3) == 95.455  # halfway 0.25 → 0.5
    words = " ".join([chart.title(), *(a.titleText() for a in chart.axes())]).lower()
    assert not any(w in words for w in MACHINE_WORDS)
    # at the report's own size nothing is cut: the bars' names (they read "Your newest
    # m…" beside the dial) and the dial's legend, whose entries sit in one row
    report.show()
    qtbot.waitExposed(report)
    qtbot.wait(500)
    (names,) = [a for a in report.plain_view.chart().axes() if isinstance(a, QBarCategoryAxis)]
    assert not names.labelsTruncated()
    title_font = QFontMetrics(report.plain_view.chart().titleFont())
    assert (
        title_font.horizontalAdvance(report.plain_view.chart().title())
        < report.plain_view.width() - 40
    )
    band = report.plain_view.width() / len(names.categories())  # one bar's share of the chart
    label_font = QFontMetrics(names.labelsFont())
    assert all(label_font.horizontalAdvance(c) < band - 20 for c in names.categories())
    legend = chart.legend()
    metrics = QFontMetrics(legend.font())
    texts = [m.label() for m in legend.markers()]
    need = sum(metrics.horizontalAdvance(t) for t in texts) + 40 * len(texts)  # + the markers
    assert need <= report.dial_view.width(), (need, report.dial_view.width())


def test_a_model_without_dial_figures_shows_no_dial(qtbot, trained, tmp_path):
    assert one_model_report(qtbot, trained, tmp_path, "m-old").dial_view.isHidden()


def test_a_model_registered_without_its_plays_is_not_said_to_have_learnt_from_none(
    qtbot, trained, tmp_path
):
    report = one_model_report(qtbot, trained, tmp_path, "m-bare", sized=False)
    text = report.summary.text()
    assert "Model m-bare, trained " in text and "0 plays" not in text
    assert "from your model" in text and "trained on" not in text
    assert report.table.item(0, 2).text() == "—"
