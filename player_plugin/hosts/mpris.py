"""The MPRIS observer host: any Linux player on the session bus (Strawberry, Rhythmbox,
Quod Libet, Elisa, mpv with mpv-mpris, VLC, Spotify…) as a Segue Host.

A worker thread follows one player (``org.mpris.MediaPlayer2.NAME``, or whichever is
playing), reads its ``PlaybackStatus``, ``Metadata`` and ``Position`` about once a second
and hears its ``Seeked`` signal; :class:`~player_plugin.app.tracking.PlayTracker` turns that
into plays (ms heard without seeks, how each ended) and the host emits the Host signals
with plain data. Players appearing and vanishing are noticed on each look; a player that
vanishes mid-track ends its play as stopped.

``file://`` URLs are percent-decoded to the file's bytes; other URLs (streams) are given
with their tags (``track_tags``) so the play log matches them by artist and title.
Queueing uses ``TrackList.AddTrack(uri, after_current, false)`` when the player says
``CanEditTracks``; otherwise ``can_queue`` is False and the window offers other ways.

The D-Bus client is jeepney (pure Python): PySide6's QtDBus cannot read a dictionary of
variants (``a{sv}``), which is what ``Metadata`` is (checked with PySide6 6.11.2).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

from jeepney import DBusAddress, MatchRule, Properties, message_bus, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import HeaderFields
from jeepney.wrappers import DBusErrorResponse
from PySide6.QtCore import QObject, Signal

from player_plugin.app.playlog import TrackTags
from player_plugin.app.tracking import PlayTracker, Snapshot
from player_plugin.domain.errors import SegueError
from player_plugin.hosts.base import Host

log = logging.getLogger(__name__)

PREFIX = "org.mpris.MediaPlayer2."
OBJECT = "/org/mpris/MediaPlayer2"
PLAYER = "org.mpris.MediaPlayer2.Player"
TRACKLIST = "org.mpris.MediaPlayer2.TrackList"
POLL_S = 1.0
CALL_TIMEOUT_S = 2.0
_STATUS = {"Playing": "playing", "Paused": "paused", "Stopped": "stopped"}


class NoSessionBus(SegueError):
    """There is no D-Bus session bus to find players on."""


def session_bus() -> DBusConnection:
    """A connection to the session bus, or :class:`NoSessionBus` in one line."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        raise NoSessionBus(
            "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set): MPRIS players "
            "can only be followed inside a desktop session"
        )
    try:
        return open_dbus_connection(bus="SESSION")
    except (OSError, ValueError, KeyError) as exc:
        raise NoSessionBus(f"cannot reach the D-Bus session bus: {exc}") from exc


def players(conn: DBusConnection) -> list[str]:
    """The MPRIS players on the bus, by bus name."""
    names = conn.send_and_get_reply(message_bus.ListNames(), timeout=CALL_TIMEOUT_S).body[0]
    return sorted(name for name in names if name.startswith(PREFIX))


def _plain(value: Any) -> Any:
    """jeepney's ``(signature, value)`` variants, unwrapped all the way down."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return _plain(value[1])
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v) if value else None
    return str(value) if value else None


def key_of(metadata: dict[str, Any]) -> tuple[bytes | None, bytes | None]:
    """``(key, path)``: a file URL's bytes (both), else the URL's (no path), else the
    artist and title (a player that gives no URL), else None."""
    url = _text(metadata.get("xesam:url"))
    if url:
        parts = urlsplit(url)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            path = unquote_to_bytes(parts.path)
            return path, path
        return url.encode(), None
    title = _text(metadata.get("xesam:title"))
    if title:
        artist = _text(metadata.get("xesam:artist")) or ""
        return f"{artist}\x1f{title}".encode(), None
    return None, None


def file_url(path: bytes) -> str:
    return "file://" + quote_from_bytes(path, safe="/")


class MprisHost(Host):
    """Follows one MPRIS player. ``start()`` it, ``stop()`` it before the app quits."""

    state_changed = Signal(str)  # "following mpv", "mpv went away", …

    def __init__(
        self,
        name: str = "",
        *,
        clock: Callable[[], int] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.wanted = name
        self.clock = clock or (lambda: int(time.monotonic() * 1000))
        self.tracker = PlayTracker(self._started, self._ended)
        self.can_queue = False  # until the player says CanEditTracks
        self.player: str | None = None  # bus name followed now
        self._owner: str | None = None  # its unique name (Seeked comes from it)
        self._trackid: str | None = None
        self._lock = threading.Lock()
        self._current: bytes | None = None
        self._tags: dict[bytes, TrackTags] = {}
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_line = ""
        session_bus().close()  # no bus: NoSessionBus now, in the caller's thread

    # -- the Host calls (GUI thread) --------------------------------------------------
    def current_track(self) -> bytes | None:
        with self._lock:
            return self._current

    def queue(self) -> list[bytes]:
        return []  # MPRIS does not say what is queued (TrackList lists, rarely offered)

    def enqueue(self, path: bytes, *, next: bool = False) -> None:
        """``TrackList.AddTrack`` after the current track (MPRIS has no 'at the end')."""
        self._commands.put(("queue", bytes(path)))

    def open_uri(self, path: bytes) -> None:
        """``Player.OpenUri``: the player plays *path* now (for players that cannot queue)."""
        self._commands.put(("open", bytes(path)))

    def track_tags(self, key: bytes) -> TrackTags | None:
        with self._lock:
            return self._tags.get(bytes(key))

    @property
    def heard_ms(self) -> int | None:
        return self.tracker.heard_now(self.clock()) if self.tracker.current else None

    # -- life -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="segue-mpris", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CALL_TIMEOUT_S * 3)
            self._thread = None
        self.tracker.vanished(self.clock())

    def _say(self, line: str) -> None:
        if line != self._last_line:
            self._last_line = line
            self.state_changed.emit(line)

    # -- the worker -------------------------------------------------------------------
    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                conn = session_bus()
            except NoSessionBus as exc:
                self._say(str(exc))
            else:
                delay = 0.5
                try:
                    self._serve(conn)
                except (OSError, ConnectionError, TimeoutError) as exc:
                    self._say(f"the session bus went away ({exc}); reconnecting")
                finally:
                    self._vanish()
                    with contextlib.suppress(Exception):
                        conn.close()
            self._stop.wait(delay)
            delay = min(delay * 2, 8.0)

    def _serve(self, conn: DBusConnection) -> None:
        rule = MatchRule(type="signal", interface=PLAYER, member="Seeked", path=OBJECT)
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
        with conn.filter(rule) as seeks:
            while not self._stop.is_set():
                self._look(conn)
                self._run_commands(conn)
                deadline = time.monotonic() + POLL_S
                while not self._stop.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        signal = conn.recv_until_filtered(seeks, timeout=left)
                    except TimeoutError:
                        break
                    if signal.header.fields.get(HeaderFields.sender) == self._owner and signal.body:
                        self.tracker.seeked(int(signal.body[0]) // 1000, self.clock())

    def _choose(self, conn: DBusConnection) -> str | None:
        found = players(conn)
        if self.wanted:
            mine = [n for n in found if n == PREFIX + self.wanted]
            mine += [n for n in found if n.startswith(PREFIX + self.wanted + ".")]
            return mine[0] if mine else None
        if self.player in found and self._status(conn, self.player) == "playing":
            return self.player
        for name in found:
            if self._status(conn, name) == "playing":
                return name
        return self.player if self.player in found else (found[0] if found else None)

    def _status(self, conn: DBusConnection, name: str) -> str | None:
        try:
            reply = conn.send_and_get_reply(
                Properties(DBusAddress(OBJECT, bus_name=name, interface=PLAYER)).get(
                    "PlaybackStatus"
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except (DBusErrorResponse, TimeoutError):
            return None
        return _STATUS.get(_plain(reply.body[0]))

    def _look(self, conn: DBusConnection) -> None:
        name = self._choose(conn)
        if name != self.player:
            if self.player is not None:
                self._say(f"{self.player[len(PREFIX) :]} went away")
                self._vanish()
            self.player = name
            self._owner = None
            if name is not None:
                self._owner = conn.send_and_get_reply(
                    message_bus.GetNameOwner(name), timeout=CALL_TIMEOUT_S
                ).body[0]
                self.can_queue = self._can_edit(conn, name)
                queue_note = "" if self.can_queue else " (it cannot queue suggestions)"
                self._say(f"following {name[len(PREFIX) :]}{queue_note}")
            else:
                self._say(f"waiting for {self.wanted or 'an MPRIS player'}")
        if name is None:  # watching an empty bus: a player that appears starts fresh
            self.tracker.update(Snapshot(None, "stopped"), self.clock())
            return
        try:
            reply = conn.send_and_get_reply(
                Properties(DBusAddress(OBJECT, bus_name=name, interface=PLAYER)).get_all(),
                timeout=CALL_TIMEOUT_S,
            )
        except DBusErrorResponse:  # it quit between the two calls
            return
        props = _plain(reply.body[0])
        self.tracker.update(self._snapshot(props), self.clock())
        current = self.tracker.current
        with self._lock:
            self._current = current.key if current is not None else None

    def _snapshot(self, props: dict[str, Any]) -> Snapshot:
        meta = props.get("Metadata") or {}
        status = _STATUS.get(props.get("PlaybackStatus", "Stopped"), "stopped")
        key, path = key_of(meta)
        length = meta.get("mpris:length")
        length_ms = int(length) // 1000 if isinstance(length, int) and length > 0 else None
        position = props.get("Position")
        self._trackid = _text(meta.get("mpris:trackid"))
        if key is None:
            return Snapshot(None, "stopped")
        tags = TrackTags(
            artist=_text(meta.get("xesam:artist")),
            title=_text(meta.get("xesam:title")),
            album=_text(meta.get("xesam:album")),
            duration_ms=length_ms,
            mbid=_text(meta.get("xesam:musicBrainzTrackID")),
        )
        with self._lock:
            self._tags[key] = tags
        pos = int(position) // 1000 if isinstance(position, int) else None
        return Snapshot(key, status, pos, length_ms, path, tags)

    def _can_edit(self, conn: DBusConnection, name: str) -> bool:
        try:
            reply = conn.send_and_get_reply(
                Properties(DBusAddress(OBJECT, bus_name=name, interface=TRACKLIST)).get(
                    "CanEditTracks"
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except (DBusErrorResponse, TimeoutError):
            return False
        return bool(_plain(reply.body[0]))

    def _run_commands(self, conn: DBusConnection) -> None:
        while True:
            try:
                kind, path = self._commands.get_nowait()
            except queue.Empty:
                return
            if kind == "open":
                self._open(conn, path)
                continue
            if self.player is None or not self.can_queue:
                self._say("this player cannot queue: copy the path or open it in the player")
                continue
            address = DBusAddress(OBJECT, bus_name=self.player, interface=TRACKLIST)
            after = self._trackid or "/org/mpris/MediaPlayer2/TrackList/NoTrack"
            call = new_method_call(address, "AddTrack", "sob", (file_url(path), after, False))
            try:
                conn.send_and_get_reply(call, timeout=CALL_TIMEOUT_S)
            except DBusErrorResponse as exc:
                self._say(f"the player refused to queue {os.fsdecode(path)}: {exc}")
            else:
                self.queue_changed.emit()

    def _open(self, conn: DBusConnection, path: bytes) -> None:
        if self.player is None:
            self._say("no player to open the track in")
            return
        address = DBusAddress(OBJECT, bus_name=self.player, interface=PLAYER)
        call = new_method_call(address, "OpenUri", "s", (file_url(path),))
        try:
            conn.send_and_get_reply(call, timeout=CALL_TIMEOUT_S)
        except DBusErrorResponse as exc:
            self._say(f"the player could not open {os.fsdecode(path)}: {exc}")

    def _vanish(self) -> None:
        self.tracker.vanished(self.clock())
        with self._lock:
            self._current = None

    # -- tracker callbacks ------------------------------------------------------------
    def _started(self, snap: Snapshot) -> None:
        with self._lock:  # current_track() agrees once the signal arrives
            self._current = snap.key
        self.track_started.emit(snap.key)

    def _ended(self, snap: Snapshot, heard: int, reason: str) -> None:
        with self._lock:  # a slot asking current_track() must not see the ended track
            self._current = None
        self.track_ended.emit(snap.key, int(heard), reason)
