"""Icons from ``assets/`` as QIcons and cover images as pixmaps."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPixmap

from assets import icon_path


@cache
def icon(name: str) -> QIcon:
    return QIcon(icon_path(name))


def cover_pixmap(data: bytes | None, size: int) -> QPixmap:
    """The cover image scaled to *size*, or the placeholder when there is none."""
    pixmap = QPixmap()
    if not data or not pixmap.loadFromData(data):
        return icon("cover").pixmap(size, size)
    return pixmap.scaled(
        size,
        size,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
