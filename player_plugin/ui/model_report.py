"""The model report: the active model's metrics beside the baselines' (a QtCharts bar chart),
its training curve, data size and age, and the history of models with a rollback button."""

from __future__ import annotations

import datetime as dt
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
    QValueAxis,
)
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from player_plugin.store.db import open_db
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
        charts = QHBoxLayout()
        self.metrics_view = QChartView()
        self.metrics_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.metrics_view.setMinimumHeight(280)
        self.curve_view = QChartView()
        self.curve_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        charts.addWidget(self.metrics_view, 3)
        charts.addWidget(self.curve_view, 2)
        layout.addLayout(charts, 1)
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
        self.reload()

    def reload(self) -> None:
        db = open_db(self.db_path)
        try:
            self.data = data = load_report(db)
        finally:
            db.close()
        self._summary(data)
        self.metrics_view.setChart(self._metrics_chart(data))
        self.curve_view.setChart(self._curve_chart(data))
        self.curve_view.setVisible(bool(data.curve))
        self._history(data)
        self.rollback_button.setEnabled(data.can_roll_back)

    def _summary(self, data: ReportData) -> None:
        active = data.active
        if active is None:
            self.summary.setText(
                "<b>No model yet.</b> Suggestions come from the baselines "
                f"({data.serving_method or 'most-played, co-occurrence, similar audio'}) "
                "until a trained model beats them on your own plays. "
                "Use Segue ▸ Retrain now when you have a few hundred plays."
                + (f"<br>{data.headline}" if data.headline else "")
            )
            return
        parts = [
            f"<b>Serving model {active['id']}</b>, trained {when(active['created_at'])}",
            f"on {active.get('data_size') or 0:,} plays",
        ]
        if active.get("cutoff"):
            parts.append(f"up to {when(active['cutoff'])}")
        text = " ".join(parts) + "."
        if data.headline:
            text += f"<br>{data.headline}"
        if active.get("reason"):
            text += f"<br><i>{active['reason']}</i>"
        self.summary.setText(text)

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
                f"{model.get('data_size') or 0:,}",
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
        from player_plugin.store.models import RegistryError, rollback

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
