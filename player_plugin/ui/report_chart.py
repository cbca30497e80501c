"""The evaluation report's bar chart (report.png), and the whole report for `segue evaluate`.

Drawn with Qt's QPainter on a QImage (offscreen platform when headless), so the report needs
nothing beyond what the player already ships; the Markdown half is Qt-free
(:mod:`player_plugin.recommend.report`).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

from player_plugin.recommend.report import write_markdown
from player_plugin.ui.qt_app import ensure_qt_app


def chart(result: dict, path: str | os.PathLike, metric: str = "ndcg@10") -> Path:
    """A PNG bar chart of *metric* per method, all plays and new plays side by side, with
    the bootstrap intervals as whiskers."""
    ensure_qt_app()  # text rendering needs a GUI application; offscreen when headless
    methods = result["methods"]
    order = sorted(methods, key=lambda n: -(methods[n]["all"].get(metric) or 0.0))
    row_h, left, width, top = 26, 230, 900, 50
    height = top + row_h * max(1, len(order)) + 40
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont()
        font.setPixelSize(13)
        painter.setFont(font)
        painter.setPen(QColor("black"))
        painter.drawText(10, 22, f"{metric} per method: all next plays (blue), new ones (orange)")
        peak = max(
            [
                (methods[n][s].get(f"{metric}_ci") or [None, None])[1]
                or methods[n][s].get(metric)
                or 0.0
                for n in order
                for s in ("all", "new")
            ]
            + [1e-6]
        )
        span = width - left - 30
        colours = {"all": QColor(60, 110, 200), "new": QColor(235, 140, 40)}
        for row, name in enumerate(order):
            y = top + row * row_h
            painter.setPen(QColor("black"))
            painter.drawText(
                QRectF(5, y, left - 15, row_h),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            for k, subset in enumerate(("all", "new")):
                value = methods[name][subset].get(metric) or 0.0
                bar = QRectF(left, y + 3 + k * 10, span * value / peak, 9)
                painter.fillRect(bar, colours[subset])
                low, high = methods[name][subset].get(f"{metric}_ci") or [None, None]
                if low is not None and high is not None:
                    painter.setPen(QPen(QColor("black"), 1))
                    yy = y + 7 + k * 10
                    painter.drawLine(
                        int(left + span * low / peak), yy, int(left + span * high / peak), yy
                    )
        painter.setPen(QColor("gray"))
        painter.drawText(left, height - 12, f"0 … {peak:.3f}")
    finally:
        painter.end()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # PySide6 6.11 stubs say bytes, but at run time the format must be a str
    if not image.save(str(target), "PNG"):  # type: ignore[call-overload]
        raise OSError(f"cannot write {target}")
    return target


def write_report(
    result: dict, folder: str | os.PathLike, title: str = "Segue offline evaluation"
) -> list[Path]:
    """report.md and report.png in *folder*; returns their paths."""
    md = write_markdown(result, folder, title)
    return [md, chart(result, Path(folder) / "report.png")]
