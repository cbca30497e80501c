"""When Segue retrains on its own: one decision for the player and `segue listen`.

The settings choose the policy: after ``retrain_after_plays`` new plays, when the player
has been idle ``retrain_idle_minutes`` with new plays to learn from, or only on request.
New plays are counted by row id after the last attempt, and only those newer than the
newest model. :class:`Autotrain` runs :func:`player_plugin.app.retrain.retrain` on a
thread of its own for faces without a task runner (the headless ``listen``).
"""

from __future__ import annotations

import logging
import os
import threading

import sqlite_utils

from player_plugin.app.retrain import RetrainResult, TrainingCancelled, retrain
from player_plugin.app.settings import Settings
from player_plugin.domain.errors import SegueError
from player_plugin.recommend.model_eval import MIN_LISTENS
from player_plugin.store import library_view
from player_plugin.store.db import open_db
from player_plugin.store.settings import get_setting, set_setting

log = logging.getLogger(__name__)

LAST_ATTEMPT_KEY = "ui.last_train_play"  # the newest play row when training last started


def new_plays(db: sqlite_utils.Database) -> int:
    """Plays newer than the newest model, recorded after the last training attempt (by
    row id: a play in the same millisecond as the attempt counts once, on the right side)."""
    after_id = int(get_setting(db, LAST_ATTEMPT_KEY, 0) or 0)
    return library_view.plays_since(db, library_view.last_model_ms(db), after_id)


def mark_attempt(db: sqlite_utils.Database) -> None:
    """Training starts now: the plays so far are the ones it learns from."""
    set_setting(db, LAST_ATTEMPT_KEY, library_view.last_play_id(db))


def due(db: sqlite_utils.Database, settings: Settings, *, idle: bool, playing: bool) -> str | None:
    """Why training should start now (for the status line), or None: after enough new
    plays under the "plays" policy; when *idle* and nothing is *playing*, with at least one
    new play, under "idle"; never under "manual"; never before the history holds the
    listens a first model needs (training would only say "not enough history yet", every
    few plays, while the listener's own patterns serve the suggestions anyway)."""
    reason = None
    if settings.retrain_policy == "plays":
        if new_plays(db) >= settings.retrain_after_plays:
            reason = "after new plays"
    elif settings.retrain_policy == "idle" and idle and not playing and new_plays(db) > 0:
        reason = "while idle"
    if reason is None or not library_view.listened_at_least(db, MIN_LISTENS):
        return None
    return reason


class Autotrain:
    """Retraining on a thread for a headless face: :meth:`check` after each ended play
    (and when idle), :meth:`stop` to cancel and wait."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.db_path = os.fspath(db_path)
        self.cancel = threading.Event()
        self.thread: threading.Thread | None = None
        self.last: RetrainResult | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def check(self, *, idle: bool = False, playing: bool = True) -> str | None:
        """Start training when the policy says so; the reason, or None."""
        if self.running or self.cancel.is_set():
            return None
        db = open_db(self.db_path)
        try:
            reason = due(db, Settings.load(db), idle=idle, playing=playing)
            if reason is not None:
                mark_attempt(db)
        finally:
            db.close()
        if reason is not None:
            log.info("training started (%s)", reason)
            self.thread = threading.Thread(target=self._run, name="segue-autotrain", daemon=True)
            self.thread.start()
        return reason

    def _run(self) -> None:
        try:
            self.last = retrain(self.db_path, cancel=self.cancel)
        except TrainingCancelled:
            log.info("training cancelled")
        except SegueError as exc:
            log.warning("training failed: %s", exc)
        else:
            log.info("training: %s", self.last.summary())

    def stop(self, timeout_s: float = 30.0) -> None:
        """Cancel a training in progress and wait for it (the trainer is stopped)."""
        self.cancel.set()
        if self.thread is not None:
            self.thread.join(timeout_s)
