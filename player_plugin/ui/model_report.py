"""The model report. Its main view speaks music: where suggestions come from (the words the
dock's header uses, :func:`player_plugin.app.source.serving_source`), "your model vs your
listening habits" on the newest plays as two bars and a sentence, the familiar ↔ discover
dial measured on those plays with the listener's setting marked, the history of models
and a rollback button. Under *Advanced*: the figures by name (NDCG@10 and the other
measures), every method compared, the training curve and why each model was kept or not."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

from PySide6.QtCharts import (
    QAbstractBarSeries,
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QScatterSeries,
    QValueAxis,
)
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from player_plugin.app.settings import Settings
from player_plugin.app.source import serving_source
from player_plugin.domain.words import count
from player_plugin.store.db import open_db
from player_plugin.store.library_view import play_counts
from player_plugin.store.models import RegistryError, rollback
from player_plugin.ui.icons import icon
from player_plugin.ui.report_data import ReportData, load_report

log = logging.getLogger(__name__)

STATE_TEXT = {
    "active": "serving",
    "retired": "retired (kept for fallback)",
    "rejected": "rejected (not promoted)",
    "rolled_back": "rolled back",
    "candidate": "candidate",
}


MIN_LISTENS = 500  # listened plays before a first model (recommend.model_eval.MIN_LISTENS)
MODEL_BAR = "#2f6db3"
HABITS_BAR = "#8fa9c4"
WHY_COLUMN = 4


def when(ms: int | None) -> str:
    if not ms:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


class ModelReport(QDialog):
    """Opens on the store at *db_path*; ``rolled_back`` after a rollback."""

    rolled_back = Signal()

    def __init__(self, db_path: str | os.PathLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db_path = str(db_path)
        self.setWindowTitle("Model report — Segue")
        self.setWindowIcon(icon("report"))
        self.resize(900, 680)
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.summary)
        self.plain_view = QChartView()  # your model vs your listening habits
        self.plain_view.setObjectName("plain-chart")
        self.plain_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.plain_view.setMinimumHeight(240)  # the advanced section never squeezes it
        plain = QHBoxLayout()  # half each: the dial's legend and the bars' names are never cut
        plain.addWidget(self.plain_view, 1)
        self.dial_view = QChartView()  # familiar ↔ discover: where the listener's setting sits
        self.dial_view.setObjectName("dial-chart")
        self.dial_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.dial_view.setMinimumHeight(240)  # its axis's words ("familiar ← … → discover")
        plain.addWidget(self.dial_view, 1)
        layout.addLayout(plain, 1)
        self.advanced_button = QPushButton("Advanced ▸")
        self.advanced_button.setObjectName("advanced-toggle")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setFlat(True)
        self.advanced_button.toggled.connect(self.show_advanced)
        layout.addWidget(self.advanced_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.advanced = QFrame()
        self.advanced.setObjectName("advanced")
        advanced = QVBoxLayout(self.advanced)
        advanced.setContentsMargins(0, 0, 0, 0)
        self.details = QLabel()
        self.details.setObjectName("details")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        advanced.addWidget(self.details)
        charts = QHBoxLayout()
        self.metrics_view = QChartView()
        self.metrics_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.metrics_view.setMinimumHeight(280)
        self.curve_view = QChartView()
        self.curve_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        charts.addWidget(self.metrics_view, 3)
        charts.addWidget(self.curve_view, 2)
        advanced.addLayout(charts, 1)
        self.advanced.hide()
        layout.addWidget(self.advanced, 2)
        layout.addWidget(QLabel("<b>History of models</b>"))
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("models")
        self.table.setHorizontalHeaderLabels(["Model", "Trained", "On plays", "State", "Why"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setMaximumHeight(170)
        layout.addWidget(self.table)
        buttons = QHBoxLayout()
        self.rollback_button = QPushButton("Roll back to the previous model")
        self.rollback_button.setObjectName("rollback")
        self.rollback_button.clicked.connect(self.rollback)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(self.rollback_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.data: ReportData | None = None
        self.source_words = ""
        self.listened = 0
        self.variety = Settings().variety
        self.reload()

    def show_advanced(self, shown: bool) -> None:
        """Show or hide the figures by name, the methods, the curve and the Why column."""
        self.advanced.setVisible(shown)
        self.table.setColumnHidden(WHY_COLUMN, not shown)
        self.advanced_button.setText("Advanced ▾" if shown else "Advanced ▸")

    def reload(self) -> None:
        db = open_db(self.db_path)
        try:
            self.data = data = load_report(db)
            self.source_words = serving_source(db).words
            self.listened = play_counts(db)[1]
            self.variety = Settings.load(db).variety
        finally:
            db.close()
        self._summary(data)
        self.details.setText(data.headline or "No held-out figures yet.")
        self.plain_view.setChart(self._plain_chart(data))
        self.plain_view.setVisible(bool(versus(data)))
        self.dial_view.setChart(self._dial_chart(data))
        self.dial_view.setVisible(bool(data.dial))
        self.metrics_view.setChart(self._metrics_chart(data))
        self.curve_view.setChart(self._curve_chart(data))
        self.curve_view.setVisible(bool(data.curve))
        self._history(data)
        self.table.setColumnHidden(WHY_COLUMN, not self.advanced_button.isChecked())
        self.rollback_button.setEnabled(data.can_roll_back)

    def _summary(self, data: ReportData) -> None:
        """Where suggestions come from and how the model compares, in music words."""
        lines = [f"<b>Your suggestions come {self.source_words}.</b>"]
        active = data.active
        if active is None and not data.models:
            left = MIN_LISTENS - self.listened
            if left > 0:
                lines.append(
                    f"No model yet: after {left:,} more listened plays, Segue can train a "
                    "model of your own (it serves only if it does better than your "
                    "listening habits)."
                )
            else:
                lines.append(
                    f"No model yet: with {count(self.listened, 'listened play')} you can train one "
                    "now (Segue ▸ Retrain now). It serves only if it does better than your "
                    "listening habits."
                )
        elif active is not None:
            size = active.get("data_size")  # none for a model registered without it
            plays = f" on {count(size, 'play')}" if size else ""
            lines.append(f"Model {active['id']}, trained {when(active['created_at'])}{plays}.")
        sentence = verdict(data, "listening patterns" in self.source_words)
        if sentence:
            lines.append(sentence)
        self.summary.setText("<br>".join(lines))

    def _plain_chart(self, data: ReportData) -> QChart:
        """Two bars (three with the previous model): how well each guessed what you played
        next on your newest plays; no figures, no method names."""
        chart = QChart()
        chart.setTitle("How well each guessed your next play (taller is better)")
        bars = versus(data)
        if not bars:
            return chart
        series = QBarSeries()
        bar = QBarSet("")
        for _, value in bars:
            bar.append(value)
        bar.setColor(QColor(HABITS_BAR))
        bar.setSelectedColor(QColor(MODEL_BAR))
        bar.selectBar(0)  # the model stands out
        series.append(bar)
        chart.addSeries(series)
        axis_x = QBarCategoryAxis()
        axis_x.append([name for name, _ in bars])
        axis_x.setTruncateLabels(False)  # Qt cut "Your listening habits" with room to spare
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(axis_x)
        axis_y = QValueAxis()
        axis_y.setRange(0, max(max(v for _, v in bars) * 1.1, 0.01))
        axis_y.setLabelsVisible(False)
        axis_y.setGridLineVisible(False)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis_y)
        chart.legend().hide()
        return chart

    def _metrics_chart(self, data: ReportData) -> QChart:
        chart = QChart()
        names = ", ".join(m.upper() for m in data.metric_names)
        chart.setTitle(f"On held-out plays: {names}" if names else "No held-out figures yet")
        if not data.methods:
            return chart
        series = QBarSeries()
        if len(data.metric_names) == 1:  # one figure: a bar per method
            metric = data.metric_names[0]
            bar = QBarSet(metric.upper())
            for values in data.methods.values():
                bar.append(float(values.get(metric, 0.0) or 0.0))
            bar.setColor(QColor("#8fa9c4"))
            bar.setSelectedColor(QColor("#2f6db3"))  # the model's own bar stands out
            for index, name in enumerate(data.methods):
                if name.startswith("model"):
                    bar.selectBar(index)
            series.append(bar)
            categories = list(data.methods)
            chart.legend().hide()
        else:  # a group of bars per metric, a colour per method
            for method, values in data.methods.items():
                bar = QBarSet(method)
                for metric in data.metric_names:
                    bar.append(float(values.get(metric, 0.0) or 0.0))
                series.append(bar)
            categories = [m.upper() for m in data.metric_names]
        series.setLabelsVisible(True)
        series.setLabelsFormat("@value")
        series.setLabelsPrecision(2)
        series.setLabelsPosition(QAbstractBarSeries.LabelsPosition.LabelsInsideEnd)
        chart.addSeries(series)
        axis_x = QBarCategoryAxis()
        axis_x.append(categories)
        if len(categories) > 4:
            axis_x.setLabelsAngle(-90)  # vertical: long names are never cut
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(axis_x)
        axis_y = QValueAxis()
        top = max(
            (float(v.get(m) or 0) for v in data.methods.values() for m in data.metric_names),
            default=1.0,
        )
        axis_y.setRange(0, max(top * 1.15, 0.01))
        axis_y.setLabelFormat("%.2f")
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis_y)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        return chart

    def _dial_chart(self, data: ReportData) -> QChart:
        """The familiar ↔ discover dial on your newest plays: how well the list would have
        guessed your next play at each setting (as a share of its best), how much of it
        would have been new to you, and where your setting sits."""
        chart = QChart()
        chart.setTitle("Familiar ↔ discover, on your newest plays (100% = its best)")
        if not data.dial:
            return chart
        best = max(float(p.get("ndcg@10", 0.0)) for p in data.dial) or 1.0
        axis_x = QValueAxis()
        axis_x.setRange(0, 1)
        axis_x.setTickCount(5)
        axis_x.setLabelFormat(" ")  # positions, not numbers: the ends are named below
        axis_x.setTitleText("familiar  ←  your setting  →  discover")
        axis_y = QValueAxis()
        axis_y.setRange(0, 100)
        axis_y.setLabelFormat("%d%%")
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        for label, value in (
            ("found your next play", lambda p: p["ndcg@10"] / best),
            ("new to you", lambda p: p["new_share"]),
        ):
            line = QLineSeries()
            line.setName(label)
            for point in data.dial:
                line.append(float(point["dial"]), 100.0 * float(value(point)))
            chart.addSeries(line)
            line.attachAxis(axis_x)
            line.attachAxis(axis_y)
        mark = QScatterSeries()
        mark.setName("your setting")
        mark.setMarkerSize(12.0)
        mark.append(float(self.variety), 100.0 * _along(data.dial, self.variety, best))
        chart.addSeries(mark)
        mark.attachAxis(axis_x)
        mark.attachAxis(axis_y)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        return chart

    def _curve_chart(self, data: ReportData) -> QChart:
        chart = QChart()
        chart.setTitle("Training curve" if data.curve else "Training curve (not recorded)")
        if not data.curve:
            return chart
        top = 0.0
        axis_x = QValueAxis()
        axis_x.setLabelFormat("%d")
        axis_x.setTitleText("epoch")
        axis_y = QValueAxis()
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        for key, label in (("loss", "training loss"), ("val_loss", "validation loss")):
            points = [(p["epoch"], p[key]) for p in data.curve if p.get(key) is not None]
            if not points:
                continue
            line = QLineSeries()
            line.setName(label)
            for x, y in points:
                line.append(float(x), float(y))
                top = max(top, float(y))
            chart.addSeries(line)
            line.attachAxis(axis_x)
            line.attachAxis(axis_y)
        epochs = [p["epoch"] for p in data.curve]
        axis_x.setRange(min(epochs), max(max(epochs), min(epochs) + 1))
        axis_x.setTickCount(min(len(epochs), 8) if len(epochs) > 1 else 2)
        axis_y.setRange(0, max(top * 1.1, 0.01))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        return chart

    def _history(self, data: ReportData) -> None:
        self.table.setRowCount(len(data.models))
        for row, model in enumerate(data.models):
            values = [
                model["id"],
                when(model["created_at"]),
                f"{model['data_size']:,}" if model.get("data_size") else "—",
                STATE_TEXT.get(model["state"], model["state"]),
                model.get("reason") or "",
            ]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if model["state"] == "active":
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()

    def rollback(self, checked: bool = False, *, confirm: bool = True) -> bool:
        """Retire the serving model and reactivate the previous one."""
        if confirm and (
            QMessageBox.question(
                self,
                "Roll back",
                "Stop using this model and go back to the previous one?",
            )
            != QMessageBox.StandardButton.Yes
        ):
            return False
        db = open_db(self.db_path)
        try:
            old, new = rollback(db)
        except RegistryError as exc:
            QMessageBox.warning(self, "Roll back", str(exc))
            return False
        finally:
            db.close()
        log.info("rolled back %s; %s serves again", old, new)
        self.reload()
        self.rolled_back.emit()
        return True


def _along(points: list[dict], dial: float, best: float) -> float:
    """The dial curve's "found your next play" share at *dial*, between measured points."""
    xs = [float(p["dial"]) for p in points]
    ys = [float(p["ndcg@10"]) / best for p in points]
    for (x0, y0), (x1, y1) in zip(
        zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False
    ):
        if x0 <= dial <= x1 and x1 > x0:
            return y0 + (y1 - y0) * (dial - x0) / (x1 - x0)
    return ys[0] if dial < xs[0] else ys[-1]


def versus(data: ReportData) -> list[tuple[str, float]]:
    """[("Your model", x), ("Your previous model", y)?, ("Your listening habits", z)]: the
    model's (the newest one's, when none serves) figure on the newest plays beside the best
    of the simple methods (what the listener plays together, after what, most), or []."""
    if not data.metric_names:
        return []
    metric = "ndcg@10" if "ndcg@10" in data.metric_names else data.metric_names[0]
    model = data.methods.get("model")
    habits = [v.get(metric, 0.0) for k, v in data.methods.items() if not k.startswith("model")]
    if model is None or not habits:
        return []
    mine = "Your model" if data.active is not None else "Your newest model"
    out = [(mine, float(model.get(metric, 0.0)))]
    previous = data.methods.get("model (previous)")
    if previous is not None:
        out.append(("Your previous model", float(previous.get(metric, 0.0))))
    out.append(("Your listening habits", float(max(habits))))
    return out


def verdict(data: ReportData, habits_serve: bool = False) -> str:
    """ "On your 57 newest plays, which it had not learnt from, your model guessed what you
    played next 16% better than your listening habits alone." (or not as well)."""
    bars = versus(data)
    if not bars:
        return ""
    mine, habits = bars[0][1], bars[-1][1]
    holdout = {}
    subject = data.active or (data.models[0] if data.models else None)
    metrics = (subject or {}).get("metrics") or {}
    if isinstance(metrics, str):
        try:
            metrics = json.loads(metrics)
        except ValueError:
            metrics = {}
    if isinstance(metrics, dict) and isinstance(metrics.get("holdout"), dict):
        holdout = metrics["holdout"]
    where = (
        f"your {holdout['plays']:,} newest plays"
        if holdout.get("plays")
        else "plays it had not seen"
    )
    who = "your model" if data.active is not None else "your newest model"
    if habits <= 0:
        how = "better than your listening habits alone" if mine > 0 else "no better than them"
    elif mine >= habits:
        how = f"{round(100 * (mine / habits - 1))}% better than your listening habits alone"
    else:
        how = f"{round(100 * (1 - mine / habits))}% less well than your listening habits alone"
    tail = ", so your listening habits serve" if habits_serve and data.active is None else ""
    return (
        f"On {where}, which it had not learnt from, {who} guessed what you played next {how}{tail}."
    )
