"""The Settings dialog: execution provider (local ones only), retraining policy,
exclusions, variety, the familiar ↔ discover balance, auto-play, the now-playing
notification and play logging, saved in the store's settings; and the *Your feedback*
page (loved, never, not now)."""

from __future__ import annotations

import copy
import os

import sqlite_utils
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from player_plugin.app.settings import SettingError, bounds, parse
from player_plugin.recommend.engine import available_providers, choose_provider
from player_plugin.store.settings import logging_paused, set_logging_paused
from player_plugin.store.stats import active_model
from player_plugin.ui.feedback_page import FeedbackPage
from player_plugin.ui.icons import icon
from player_plugin.ui.prefs import Prefs

# The execution providers that run on this computer, as the listener knows them; others
# onnxruntime may report (AzureExecutionProvider: inference in the cloud) are never offered.
LOCAL_PROVIDERS = {
    "CPUExecutionProvider": "CPU",
    "CUDAExecutionProvider": "CUDA (NVIDIA graphics card)",
    "ROCMExecutionProvider": "ROCm (AMD graphics card)",
    "DmlExecutionProvider": "DirectML (Windows graphics card)",
    "CoreMLExecutionProvider": "Core ML (Apple)",
    "OpenVINOExecutionProvider": "OpenVINO (Intel)",
}


def provider_choices(db: sqlite_utils.Database, wanted: str) -> tuple[list[str], str | None]:
    """(the local execution providers this onnxruntime build has, the one serving the
    active model, or None when no model serves): the engine takes *wanted* when this build
    has it, else the CPU."""
    serving = choose_provider(wanted or None) if active_model(db) is not None else None
    present = set(available_providers())
    return [name for name in LOCAL_PROVIDERS if name in present], serving


def _range(name: str) -> tuple[int, int]:
    low, high = bounds(name)
    return int(low), int(high)


def _genres(text: str, before: list[str]) -> list[str]:
    """The genres typed (comma-separated, as `segue settings set` reads them); what was
    there before when the text cannot be read."""
    try:
        return list(parse("excluded_genres", text))
    except SettingError:
        return list(before)


class SettingsDialog(QDialog):
    """Edits a copy of *prefs*; ``self.prefs`` holds the result after ``accept``."""

    def __init__(self, db: sqlite_utils.Database, prefs: Prefs, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Segue settings")
        self.setWindowIcon(icon("settings"))
        self.db = db
        self.prefs = copy.deepcopy(prefs)
        outer = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settings-tabs")
        general = QWidget()
        layout = QVBoxLayout(general)
        self.tabs.addTab(general, "Suggestions")
        self.feedback = FeedbackPage(db)
        self.tabs.addTab(self.feedback, "Your feedback")
        outer.addWidget(self.tabs)

        # suggestions
        box = QGroupBox("Suggestions")
        form = QFormLayout(box)
        self.variety = QSlider(Qt.Orientation.Horizontal)
        self.variety.setObjectName("variety")
        self.variety.setRange(0, 100)
        self.variety.setValue(round(self.prefs.variety * 100))
        self.variety.setTickInterval(25)
        self.variety.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.variety.setToolTip("The middle is your own mix of favourites, replays and new music")
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Familiar"))
        slider_row.addWidget(self.variety, 1)
        slider_row.addWidget(QLabel("Discover"))
        form.addRow("Balance:", slider_row)
        self.count = QSpinBox()
        self.count.setRange(*_range("suggestions"))
        self.count.setValue(self.prefs.suggestions)
        form.addRow("Suggestions shown:", self.count)
        self.artist_window = QSpinBox()
        self.artist_window.setObjectName("artist-window")
        self.artist_window.setRange(*_range("artist_window"))
        self.artist_window.setValue(self.prefs.artist_window)
        self.artist_window.setSuffix(" tracks")
        form.addRow("Same artist again after:", self.artist_window)
        self.not_now = QSpinBox()
        self.not_now.setRange(*_range("not_now_hours"))
        self.not_now.setSuffix(" hours")
        self.not_now.setValue(self.prefs.not_now_hours)
        form.addRow('"Not now" hides a track for:', self.not_now)
        self.analyse = QCheckBox("Analyse the audio of new tracks in the background")
        self.analyse.setObjectName("analyse-audio")
        self.analyse.setChecked(self.prefs.analyse_audio)
        self.autoplay = QCheckBox("When the queue runs dry, append the best suggestion")
        self.autoplay.setObjectName("autoplay")
        self.autoplay.setChecked(self.prefs.autoplay)
        form.addRow("Auto-play:", self.autoplay)
        form.addRow("Audio features:", self.analyse)
        self.notify = QCheckBox("Show a desktop notification when a new track starts")
        self.notify.setObjectName("notify-track-change")
        self.notify.setChecked(self.prefs.notify_track_change)
        form.addRow("Now playing:", self.notify)
        layout.addWidget(box)

        # exclusions
        box = QGroupBox("Never suggest from")
        form = QFormLayout(box)
        self.genres = QLineEdit(", ".join(self.prefs.excluded_genres))
        self.genres.setObjectName("excluded-genres")
        self.genres.setPlaceholderText("e.g. Audiobook, Podcast")
        form.addRow("Genres:", self.genres)
        folders_row = QHBoxLayout()
        self.folders = QListWidget()
        self.folders.setObjectName("excluded-folders")
        self.folders.setMaximumHeight(70)
        self.folders.addItems(self.prefs.excluded_folders)
        add = QPushButton("Add…")
        add.clicked.connect(self._add_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_folders)  # a method: no lambda holding self
        folder_buttons = QVBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        folders_row.addWidget(self.folders, 1)
        folders_row.addLayout(folder_buttons)
        form.addRow("Folders:", folders_row)
        layout.addWidget(box)

        # model
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.provider = QComboBox()
        self.provider.setObjectName("provider")
        available, serving = provider_choices(db, self.prefs.provider)
        self.provider.addItem("Automatic (the CPU)", "")
        for name in available:
            label = LOCAL_PROVIDERS[name]
            label = f"{label}  (serving now)" if name == serving else label
            self.provider.addItem(label, name)
        index = self.provider.findData(self.prefs.provider)
        self.provider.setCurrentIndex(max(0, index))
        form.addRow("Execution provider:", self.provider)
        policy = QVBoxLayout()
        self.policy = QButtonGroup(self)
        self.policy_plays = QRadioButton("After")
        self.after_plays = QSpinBox()
        self.after_plays.setRange(*_range("retrain_after_plays"))
        self.after_plays.setValue(self.prefs.retrain_after_plays)
        self.after_plays.setSuffix(" new plays")
        self.policy_idle = QRadioButton("When idle for")
        self.idle_minutes = QSpinBox()
        self.idle_minutes.setRange(*_range("retrain_idle_minutes"))
        self.idle_minutes.setValue(self.prefs.retrain_idle_minutes)
        self.idle_minutes.setSuffix(" minutes")
        self.policy_manual = QRadioButton("Only when I choose Retrain now")
        for button, key in (
            (self.policy_plays, "plays"),
            (self.policy_idle, "idle"),
            (self.policy_manual, "manual"),
        ):
            button.setObjectName(f"policy-{key}")
            button.setChecked(self.prefs.retrain_policy == key)
            self.policy.addButton(button)
        for button, spin in (
            (self.policy_plays, self.after_plays),
            (self.policy_idle, self.idle_minutes),
        ):
            row = QHBoxLayout()
            row.addWidget(button)
            row.addWidget(spin)
            row.addStretch(1)
            policy.addLayout(row)
        policy.addWidget(self.policy_manual)
        form.addRow("Retrain:", policy)
        layout.addWidget(box)

        # privacy
        self.paused = QCheckBox("Pause play logging (nothing new is recorded)")
        self.paused.setObjectName("pause-logging")
        self.paused.setChecked(logging_paused(db))
        layout.addWidget(self.paused)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)

    def _remove_folders(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))

    def _add_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder to exclude", os.path.expanduser("~"))
        if path:
            self.folders.addItem(path)

    def collect(self) -> Prefs:
        """The prefs as the controls show them."""
        p = self.prefs
        p.variety = self.variety.value() / 100
        p.suggestions = self.count.value()
        p.artist_window = self.artist_window.value()
        p.not_now_hours = self.not_now.value()
        p.autoplay = self.autoplay.isChecked()
        p.analyse_audio = self.analyse.isChecked()
        p.notify_track_change = self.notify.isChecked()
        p.excluded_genres = _genres(self.genres.text(), p.excluded_genres)
        p.excluded_folders = [self.folders.item(i).text() for i in range(self.folders.count())]
        p.provider = self.provider.currentData() or ""
        p.retrain_after_plays = self.after_plays.value()
        p.retrain_idle_minutes = self.idle_minutes.value()
        p.retrain_policy = (
            "plays"
            if self.policy_plays.isChecked()
            else "idle"
            if self.policy_idle.isChecked()
            else "manual"
        )
        return p

    def accept(self) -> None:
        self.collect()
        set_logging_paused(self.db, self.paused.isChecked())
        super().accept()
