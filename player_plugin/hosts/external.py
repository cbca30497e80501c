"""Choosing an external player from ``--host`` and logging its plays without a window.

``mpris``, ``mpris:NAME``, ``mpd``, ``mpd:HOST``, ``mpd:HOST:PORT`` name the player;
:func:`make_host` builds its Host (not started). :class:`HeadlessLogger` is what
``segue listen`` runs: the host's signals into :class:`~player_plugin.app.playlog.PlayLog`,
one line per event at ``-v``, the play in progress touched every 10 s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer

from player_plugin.app.autotrain import Autotrain
from player_plugin.app.playlog import TOUCH_MS, PlayLog
from player_plugin.app.settings import Settings
from player_plugin.domain.errors import SegueError
from player_plugin.hosts.base import Host

log = logging.getLogger("player_plugin.listen")


class BadHost(SegueError):
    """``--host`` names no player Segue can follow."""


@dataclass(frozen=True, slots=True)
class HostSpec:
    kind: str  # "mpris" or "mpd"
    name: str = ""  # MPRIS: the player's bus name suffix ("" = whichever plays)
    address: str = "localhost"
    port: int = 6600

    @property
    def label(self) -> str:
        if self.kind == "mpd":
            return f"mpd:{self.address}:{self.port}"
        return f"mpris:{self.name or 'any'}"

    @property
    def words(self) -> str:
        """The player as the listener names it: "MPD at localhost:6600", "strawberry over
        MPRIS", "whichever MPRIS player plays"."""
        if self.kind == "mpd":
            return f"MPD at {self.address}:{self.port}"
        return f"{self.name} over MPRIS" if self.name else "whichever MPRIS player plays"


def parse_host(text: str) -> HostSpec:
    """``mpris[:NAME]`` or ``mpd[:HOST[:PORT]]``; :class:`BadHost` otherwise."""
    kind, _, rest = text.partition(":")
    if kind == "mpris":
        return HostSpec("mpris", name=rest)
    if kind == "mpd":
        address, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
        if not address and port:
            address, port = port, ""
        try:
            number = int(port) if port else int(os.environ.get("MPD_PORT", 6600))
        except ValueError:
            raise BadHost(f"--host {text}: the port must be a number") from None
        return HostSpec(
            "mpd", address=address or os.environ.get("MPD_HOST", "localhost"), port=number
        )
    raise BadHost(f"--host {text}: use mpris, mpris:NAME, mpd or mpd:HOST:PORT")


class HeadlessLogger(QObject):
    """Logs a host's plays into *playlog*; says each play on the ``listen`` logger and each
    change of the player's state (connected, lost, following…) through *say* (default: that
    logger too); with *autotrain*, retrains as the settings' policy says (after new plays,
    or when idle)."""

    def __init__(
        self,
        host: Host,
        playlog: PlayLog,
        parent: QObject | None = None,
        *,
        autotrain: Autotrain | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.playlog = playlog
        self.logged = 0
        self.autotrain = autotrain
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._idle_timeout)
        self._restart_idle()
        host.track_started.connect(self._started)
        host.track_ended.connect(self._ended)
        state = getattr(host, "state_changed", None)
        if state is not None:
            state.connect(say or (lambda line: log.info("%s", line)))
        self._touch = QTimer(self)
        self._touch.setInterval(TOUCH_MS)
        self._touch.timeout.connect(self.touch)
        self._touch.start()

    def _restart_idle(self) -> None:
        if self.autotrain is not None:
            minutes = Settings.load(self.playlog.db).retrain_idle_minutes
            self._idle.start(max(1, minutes) * 60_000)

    def _idle_timeout(self) -> None:
        if self.autotrain is not None:
            self.autotrain.check(idle=True, playing=self.host.current_track() is not None)

    def _started(self, key: bytes) -> None:
        self._restart_idle()
        key = bytes(key)
        tags = getattr(self.host, "track_tags", lambda _k: None)(key)
        source = getattr(self.host, "track_source", lambda _k: "user")(key)
        try:
            started = self.playlog.started(key, tags=tags, source=source)
        except Exception as exc:
            log.warning("could not log the play of %s: %s", os.fsdecode(key), exc)
            return
        note = f" ({started.message})" if started.message else ""
        log.info("started: %s%s", os.fsdecode(key), note)

    def _ended(self, key: bytes, ms: int, reason: str) -> None:
        try:
            play_id = self.playlog.ended(bytes(key), ms, reason)
        except Exception as exc:
            log.warning("could not log the play of %s: %s", os.fsdecode(key), exc)
            return
        if play_id is not None:
            self.logged += 1
        log.info("%s after %.1f s: %s", reason, ms / 1000, os.fsdecode(key))
        self._restart_idle()
        if play_id is not None and self.autotrain is not None:
            self.autotrain.check()

    def touch(self) -> None:
        try:
            self.playlog.touch(self.host.current_track(), getattr(self.host, "heard_ms", None))
        except Exception as exc:
            log.warning("could not update the play in progress: %s", exc)

    def close(self) -> None:
        self._touch.stop()
        self._idle.stop()
        if self.autotrain is not None:
            self.autotrain.stop()
