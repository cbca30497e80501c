"""Shuffle (off, plain, smart) and repeat (off, one, all) for the reference player: the
toolbar buttons (a click moves to the next mode), the Playback menu's choices, and smart
shuffle's pick, asked of the recommender on the thread pool
(:mod:`player_plugin.app.smart_shuffle`) whenever the track or the queue changes."""

from __future__ import annotations

import copy

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from player_plugin.app.smart_shuffle import smart_next_at
from player_plugin.hosts.reference import REPEAT_MODES, SHUFFLE_MODES, ReferencePlayer
from player_plugin.ui.icons import icon
from player_plugin.ui.plugin import SeguePlugin
from player_plugin.ui.workers import TaskRunner

SHUFFLE_TEXT = {"off": "Shuffle off", "plain": "Shuffle", "smart": "Smart shuffle (Segue picks)"}
REPEAT_TEXT = {"off": "Repeat off", "one": "Repeat one", "all": "Repeat all"}


def _button(name: str) -> QToolButton:
    button = QToolButton()
    button.setObjectName(name)
    button.setIcon(icon(name))
    button.setCheckable(True)
    button.setAutoRaise(True)
    return button


class PlaybackModes(QObject):
    """Owns the shuffle/repeat buttons and menu actions; keeps them showing the player's
    modes. Connections go to bound methods only (docs/PLUGIN.md)."""

    def __init__(
        self,
        player: ReferencePlayer,
        plugin: SeguePlugin,
        runner: TaskRunner,
        db_path: str,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.player = player
        self.plugin = plugin
        self.runner = runner
        self.db_path = db_path
        self.shuffle_button = _button("shuffle")
        self.repeat_button = _button("repeat")
        self.shuffle_actions: dict[str, QAction] = {}
        self.repeat_actions: dict[str, QAction] = {}
        self.shuffle_button.clicked.connect(self._cycle_shuffle)
        self.repeat_button.clicked.connect(self._cycle_repeat)
        player.modes_changed.connect(self.show)
        player.track_started.connect(self.smart_pick)
        player.queue_changed.connect(self.smart_pick)

    def add_buttons(self, bar: QToolBar) -> None:
        bar.addWidget(self.shuffle_button)
        bar.addWidget(self.repeat_button)

    def add_menus(self, menu: QMenu) -> None:
        """The Shuffle and Repeat submenus of *menu* (the Playback menu)."""
        self.shuffle_actions = self._actions(
            menu.addMenu("S&huffle"), SHUFFLE_MODES, SHUFFLE_TEXT, self._shuffle_chosen
        )
        self.repeat_actions = self._actions(
            menu.addMenu("R&epeat"), REPEAT_MODES, REPEAT_TEXT, self._repeat_chosen
        )
        self.show()

    def _actions(self, menu: QMenu, modes, texts: dict[str, str], slot) -> dict[str, QAction]:
        group = QActionGroup(self)
        group.setExclusive(True)
        actions: dict[str, QAction] = {}
        for mode in modes:
            action = QAction(texts[mode], self)
            action.setCheckable(True)
            action.setData(mode)
            group.addAction(action)
            menu.addAction(action)
            actions[mode] = action
        group.triggered.connect(slot)
        return actions

    def _shuffle_chosen(self, action: QAction) -> None:
        self.player.set_shuffle(action.data())

    def _repeat_chosen(self, action: QAction) -> None:
        self.player.set_repeat(action.data())

    def _cycle_shuffle(self) -> None:
        modes, now = SHUFFLE_MODES, self.player.shuffle
        self.player.set_shuffle(modes[(modes.index(now) + 1) % len(modes)])
        self.show()

    def _cycle_repeat(self) -> None:
        modes, now = REPEAT_MODES, self.player.repeat
        self.player.set_repeat(modes[(modes.index(now) + 1) % len(modes)])
        self.show()

    def show(self) -> None:
        """Buttons and menu choices as the player's modes are now."""
        shuffle, repeat = self.player.shuffle, self.player.repeat
        if shuffle in self.shuffle_actions:
            self.shuffle_actions[shuffle].setChecked(True)
        if repeat in self.repeat_actions:
            self.repeat_actions[repeat].setChecked(True)
        self.shuffle_button.setChecked(shuffle != "off")
        self.shuffle_button.setToolTip(f"{SHUFFLE_TEXT[shuffle]} (click to change)")
        self.repeat_button.setChecked(repeat != "off")
        self.repeat_button.setToolTip(f"{REPEAT_TEXT[repeat]} (click to change)")
        self.smart_pick()

    def smart_pick(self, *_: object) -> None:
        """With smart shuffle, ask the recommender (on the pool) what plays next."""
        if self.player.shuffle != "smart" or self.plugin.closing:
            self.player.preferred_next = None
            return
        current = self.player.current_track()
        playing = bytes(current) if current is not None else None
        queued = [bytes(p) for p in self.player.queue()]
        settings, db_path = copy.deepcopy(self.plugin.prefs), self.db_path  # plain data
        self.runner.run_task(
            lambda: smart_next_at(db_path, playing, queued, settings),
            self._picked,
            on_error=self.plugin.status.emit,
            key="smart-shuffle",
        )

    def _picked(self, path: bytes | None) -> None:
        self.player.preferred_next = path
