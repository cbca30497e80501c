"""The reference player's state that survives a restart or a kill: queue, the track
playing and where, volume, shuffle and repeat. One JSON value in the store's settings,
written as it changes (from a worker thread; each write is one small transaction, so a
kill leaves either the old or the new state, never half of one)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import sqlite_utils

from player_plugin.store.db import open_db
from player_plugin.store.settings import get_setting, set_setting

STATE_KEY = "player.state"


@dataclass
class PlayerState:
    """Plain data; paths are the file names' bytes."""

    queue: list[bytes] = field(default_factory=list)
    current: bytes | None = None
    position_ms: int = 0
    volume: int = 80
    shuffle: str = "off"
    repeat: str = "off"

    def to_json(self) -> dict:
        # os.fsdecode keeps undecodable bytes as lone surrogates; json escapes them
        # (ensure_ascii), so the stored text is plain ASCII and any path round-trips
        return {
            "queue": [os.fsdecode(p) for p in self.queue],
            "current": os.fsdecode(self.current) if self.current is not None else None,
            "position_ms": int(self.position_ms),
            "volume": int(self.volume),
            "shuffle": self.shuffle,
            "repeat": self.repeat,
        }

    @classmethod
    def from_json(cls, value: object) -> PlayerState:
        """The state in *value*; anything unreadable falls back to the defaults."""
        if not isinstance(value, dict):
            return cls()
        state = cls()
        queue = value.get("queue")
        if isinstance(queue, list):
            state.queue = [os.fsencode(p) for p in queue if isinstance(p, str)]
        current = value.get("current")
        if isinstance(current, str):
            state.current = os.fsencode(current)
        for name in ("position_ms", "volume"):
            number = value.get(name)
            if isinstance(number, int) and number >= 0:
                setattr(state, name, number)
        state.volume = min(state.volume, 100)
        for name in ("shuffle", "repeat"):
            mode = value.get(name)
            if isinstance(mode, str):
                setattr(state, name, mode)
        return state


def load_state(db: sqlite_utils.Database) -> PlayerState:
    return PlayerState.from_json(get_setting(db, STATE_KEY))


def save_state(db: sqlite_utils.Database, state: PlayerState) -> None:
    set_setting(db, STATE_KEY, state.to_json())  # one statement: all or nothing


def save_state_at(db_path: str, state: PlayerState) -> None:
    """Write *state* with a connection of its own (for a worker thread)."""
    db = open_db(db_path, migrate=False)  # the window opened (and migrated) it already
    try:
        save_state(db, state)
    finally:
        db.close()
