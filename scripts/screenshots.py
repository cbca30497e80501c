"""Render what a user sees to PNG under docs/screenshots/ (offscreen): the main window on the
demo library with suggestions, the dock after an action (with its undo), the wizard's
pages, the settings and their feedback page, and the model report.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py``. It builds the
demo in a temporary folder, analyses its audio and trains a model first (a few minutes).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
log = logging.getLogger("screenshots")


def prepare(folder: Path, train: bool) -> Path:
    from player_plugin.app.demo import build_demo, demo_paths
    from player_plugin.app.retrain import TrainingError, retrain
    from player_plugin.library.analyze_job import analyse_library
    from player_plugin.store.db import open_db

    build_demo(folder)
    db_path = demo_paths(folder)[1]
    db = open_db(db_path)
    try:
        analyse_library(db)
    finally:
        db.close()
    if train:
        try:
            log.info("training: %s", retrain(db_path).summary())
        except TrainingError as exc:
            log.warning("%s", exc)
    return db_path


def wait(app, condition, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def save(widget, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(OUT / f"{name}.png"))
    print(f"wrote docs/screenshots/{name}.png")


def shoot(db_path: Path, folder: Path) -> None:
    from PySide6.QtCore import QEvent, QPointF, QSettings
    from PySide6.QtGui import QEnterEvent
    from PySide6.QtWidgets import QApplication

    from player_plugin.ui.library_model import PathRole
    from player_plugin.ui.model_report import ModelReport
    from player_plugin.ui.player_window import PlayerWindow
    from player_plugin.ui.settings_dialog import SettingsDialog
    from player_plugin.ui.wizard import ImportWizard

    app = QApplication.instance() or QApplication([])
    app.setApplicationName("Segue")
    settings = QSettings(str(folder / "window.ini"), QSettings.Format.IniFormat)
    window = PlayerWindow(db_path, settings=settings)
    window.resize(1320, 820)
    window.show()
    model = window.model
    wait(app, lambda: model.rowCount() > 0, 10)
    rows = [r for r in range(model.rowCount()) if model.track(r)["genres"] == ["Jazz"]]
    got: list = []
    window.plugin.suggestions_changed.connect(got.append)
    window.player.play_path(model.data(model.index(rows[0], 0), PathRole))
    window.player.enqueue(model.data(model.index(rows[1], 0), PathRole))
    wait(app, lambda: window.player.media.position() > 1500, 10)
    window.player.pause()
    wait(app, lambda: bool(got) and bool(got[-1]), 30)
    wait(app, lambda: False, 0.5)
    wait(app, lambda: window.browser.topLevelItemCount() > 1, 10)  # the artist ▸ album pane
    playing = model.track(rows[0])
    window.browser.choose(playing["artist"], playing["album"])  # expanded at the album
    window.browser.choose(None)  # all music shown, the now-playing track marked
    wait(app, lambda: model.rowCount() > len(rows), 10)
    window.table.selectRow(rows[1])
    save(window, "main-window")

    # the dock after an action: a loved track, one hidden for now, one never suggested
    # (the pointer is over the dock, so the rows stay put; the undo bar names the track)
    dock = window.plugin.dock
    point = QPointF(20, 20)
    app.sendEvent(dock, QEnterEvent(point, point, point))
    wait(app, lambda: len(dock.rows) >= 4, 10)
    dock.rows[0].buttons["love"].click()
    dock.rows[1].buttons["not_now"].click()
    dock.rows[2].buttons["never"].click()
    wait(app, lambda: False, 0.5)
    save(dock, "dock-undo")
    app.sendEvent(dock, QEvent(QEvent.Type.Leave))
    wait(app, lambda: False, 0.5)

    dialog = SettingsDialog(window.plugin.db, window.plugin.prefs, window)
    dialog.show()
    wait(app, lambda: False, 0.3)
    save(dialog, "settings")
    dialog.tabs.setCurrentWidget(dialog.feedback)
    wait(app, lambda: False, 0.3)
    save(dialog, "settings-feedback")
    dialog.reject()

    report = ModelReport(db_path, window)
    report.show()
    wait(app, lambda: False, 0.5)
    save(report, "model-report")
    report.advanced_button.click()  # the figures by name, every method, the curve
    report.resize(900, 900)
    wait(app, lambda: False, 0.5)
    save(report, "model-report-advanced")
    report.close()

    # the wizard as a new user meets it: an empty store, the demo's music and history
    wizard = ImportWizard(str(folder / "wizard" / "segue.db"), window)
    wizard.folders_page.list.clear()
    wizard.folders_page.add_folder(str(folder / "music"))
    wizard.resize(720, 500)
    wizard.show()
    wait(app, lambda: False, 0.3)
    save(wizard, "wizard-1-folders")
    wizard.next()
    wait(app, lambda: wizard.scan_page.summary is not None, 60)
    save(wizard, "wizard-2-scan")
    wizard.next()
    wizard.history_page.add_files([str(folder / "DEMO-listening-history.json")])
    wait(app, wizard.history_page.isComplete, 60)
    save(wizard, "wizard-3-history")
    wizard.next()
    wait(app, lambda: False, 4)
    save(wizard, "wizard-4-training")
    wait(app, wizard.train_page.isComplete, 600)
    save(wizard, "wizard-4-trained")
    wizard.next()
    save(wizard, "wizard-5-done")
    wizard.reject()
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-train", action="store_true", help="skip training the model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="segue-shots-") as tmp:
        folder = Path(tmp) / "demo"
        db_path = prepare(folder, train=not args.no_train)
        shoot(db_path, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
