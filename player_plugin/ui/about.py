"""Help ▸ About: Segue's version, the versions it runs on, and where its data lives."""

from __future__ import annotations

import html
import os
import platform
from importlib import metadata

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_text(db_path: str) -> str:
    """The About box's text (HTML): versions and the data folders."""
    folder = os.path.dirname(os.path.abspath(db_path))
    rows = [
        ("Segue", _version("segue")),
        ("Python", platform.python_version()),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("ONNX Runtime", _version("onnxruntime")),
        ("Your library and plays", os.path.abspath(db_path)),
        ("Your models", os.path.join(folder, "models")),
        ("Data folder", folder),
    ]
    body = "".join(
        f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return (
        "<h3>Segue</h3><p>Suggests what to play next from your own listening, on this "
        f"computer only.</p><table>{body}</table>"
    )


def show_about(parent: QWidget, db_path: str) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About Segue")
    box.setText(about_text(db_path))
    box.setObjectName("about")
    box.open()
    return box
