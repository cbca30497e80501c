"""The reference player on MPRIS: ``org.mpris.MediaPlayer2`` and ``.Player`` on the session bus.

Media keys, desktop widgets and ``playerctl`` see the player as ``org.mpris.MediaPlayer2.segue``
(``…segue.instance<pid>`` when that name is taken) and control it: Play, Pause, PlayPause,
Stop, Next, Previous, Seek, SetPosition, OpenUri, Raise, Quit; they read PlaybackStatus,
Metadata (``xesam:url``/``title``/``artist``/``album``, ``mpris:length``, ``mpris:trackid``),
Position, Volume (writable too) and what the player can do now (CanGoNext, …). Changes are
announced with ``org.freedesktop.DBus.Properties.PropertiesChanged``, seeks with ``Seeked``.

The wire is jeepney (pure Python), not QtDBus: with PySide6 6.11 a Python int inside a
dictionary always goes out as a 32-bit ``i``, so Metadata's ``mpris:length`` could not be
the ``x`` (int64) the specification asks for, and strict readers refuse it (playerctl's
``duration()``, widgets built on libplayerctl). jeepney writes every value with the
signature given here.

Threads: a daemon thread owns the connection's reading side and answers property reads
from a snapshot the GUI thread keeps up to date (under a lock); every request that changes
something (Play, Seek, Volume, …) is handed to the GUI thread through a queued Qt signal
and carried out there on the player. Qt objects never cross threads. Without a session
bus :meth:`MprisService.publish` says so in the log and returns False; the player works as
before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    message_bus,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import Message
from PySide6.QtCore import QObject, Signal

from player_plugin.hosts.reference import ReferencePlayer

log = logging.getLogger(__name__)

BUS_NAME = "org.mpris.MediaPlayer2.segue"
OBJECT_PATH = "/org/mpris/MediaPlayer2"
ROOT_IFACE = "org.mpris.MediaPlayer2"
PLAYER_IFACE = "org.mpris.MediaPlayer2.Player"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
TRACK_PREFIX = "/org/segue/track/"
RECEIVE_TIMEOUT_S = 0.25  # how often the bus thread looks whether it should stop
MIME_TYPES = [
    "audio/mpeg",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
    "audio/x-vorbis+ogg",
    "audio/x-opus+ogg",
    "audio/mp4",
    "audio/x-m4a",
    "audio/wav",
    "audio/x-wav",
    "audio/x-ms-wma",
    "audio/x-wavpack",
    "audio/aac",
]
_STATUS = {"playing": "Playing", "paused": "Paused"}
# Methods and their argument signatures; those that change something run on the GUI thread.
_METHODS = {
    (ROOT_IFACE, "Raise"): "",
    (ROOT_IFACE, "Quit"): "",
    (PLAYER_IFACE, "Play"): "",
    (PLAYER_IFACE, "Pause"): "",
    (PLAYER_IFACE, "PlayPause"): "",
    (PLAYER_IFACE, "Stop"): "",
    (PLAYER_IFACE, "Next"): "",
    (PLAYER_IFACE, "Previous"): "",
    (PLAYER_IFACE, "Seek"): "x",
    (PLAYER_IFACE, "SetPosition"): "ox",
    (PLAYER_IFACE, "OpenUri"): "s",
}
_ROOT_PROPS: dict[str, tuple[str, Any]] = {
    "CanQuit": ("b", True),
    "CanRaise": ("b", True),
    "HasTrackList": ("b", False),
    "Fullscreen": ("b", False),
    "CanSetFullscreen": ("b", False),
    "Identity": ("s", "Segue"),
    "DesktopEntry": ("s", "segue"),
    "SupportedUriSchemes": ("as", ["file"]),
    "SupportedMimeTypes": ("as", MIME_TYPES),
}
_WRITABLE = {(PLAYER_IFACE, "Volume"), (PLAYER_IFACE, "Rate")}

INTROSPECTION = f"""<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
 <interface name="org.freedesktop.DBus.Introspectable">
  <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
 </interface>
 <interface name="org.freedesktop.DBus.Peer">
  <method name="Ping"/>
 </interface>
 <interface name="{PROPS_IFACE}">
  <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="out"/></method>
  <method name="GetAll"><arg type="s" direction="in"/><arg type="a{{sv}}" direction="out"/></method>
  <method name="Set"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="in"/></method>
  <signal name="PropertiesChanged"><arg type="s"/><arg type="a{{sv}}"/><arg type="as"/></signal>
 </interface>
 <interface name="{ROOT_IFACE}">
  <method name="Raise"/><method name="Quit"/>
  <property name="CanQuit" type="b" access="read"/>
  <property name="CanRaise" type="b" access="read"/>
  <property name="HasTrackList" type="b" access="read"/>
  <property name="Fullscreen" type="b" access="read"/>
  <property name="CanSetFullscreen" type="b" access="read"/>
  <property name="Identity" type="s" access="read"/>
  <property name="DesktopEntry" type="s" access="read"/>
  <property name="SupportedUriSchemes" type="as" access="read"/>
  <property name="SupportedMimeTypes" type="as" access="read"/>
 </interface>
 <interface name="{PLAYER_IFACE}">
  <method name="Next"/><method name="Previous"/><method name="Pause"/>
  <method name="PlayPause"/><method name="Stop"/><method name="Play"/>
  <method name="Seek"><arg name="Offset" type="x" direction="in"/></method>
  <method name="SetPosition"><arg name="TrackId" type="o" direction="in"/>
   <arg name="Position" type="x" direction="in"/></method>
  <method name="OpenUri"><arg name="Uri" type="s" direction="in"/></method>
  <signal name="Seeked"><arg name="Position" type="x"/></signal>
  <property name="PlaybackStatus" type="s" access="read"/>
  <property name="Rate" type="d" access="readwrite"/>
  <property name="Metadata" type="a{{sv}}" access="read"/>
  <property name="Volume" type="d" access="readwrite"/>
  <property name="Position" type="x" access="read"/>
  <property name="MinimumRate" type="d" access="read"/>
  <property name="MaximumRate" type="d" access="read"/>
  <property name="CanGoNext" type="b" access="read"/>
  <property name="CanGoPrevious" type="b" access="read"/>
  <property name="CanPlay" type="b" access="read"/>
  <property name="CanPause" type="b" access="read"/>
  <property name="CanSeek" type="b" access="read"/>
  <property name="CanControl" type="b" access="read"/>
 </interface>
</node>
"""


@dataclass(frozen=True)
class TrackInfo:
    """What the desktop shows of a track (from the library; anything may be unknown)."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    length_ms: int | None = None


def file_url(path: bytes) -> str:
    """A percent-encoded ``file://`` URL for the file's bytes (any encoding)."""
    return "file://" + quote_from_bytes(path, safe="/")


def url_path(url: str) -> bytes | None:
    """The file's bytes for a ``file://`` URL (or a plain absolute path); None otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return unquote_to_bytes(parts.path) or None
    if not parts.scheme and url.startswith("/"):
        return os.fsencode(url)
    return None


class MprisService(QObject):
    """Publishes *player* on the session bus. *describe(path)* gives a track's tags (or
    None); the window connects ``volume_requested`` (percent), ``raise_requested`` and
    ``quit_requested``, and calls :meth:`volume_changed` when its volume changes."""

    volume_requested = Signal(int)
    raise_requested = Signal()
    quit_requested = Signal()
    _request = Signal(str, object)  # bus thread -> GUI thread (queued): method, arguments

    def __init__(
        self,
        player: ReferencePlayer,
        describe: Callable[[bytes], TrackInfo | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.player = player
        self.describe = describe
        self.bus_name: str | None = None
        self._conn: DBusConnection | None = None
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _props and _clock
        self._props: dict[str, tuple[str, Any]] = {}
        self._clock = (0, 0.0, False)  # position ms, when (monotonic), advancing
        self._track_no = 0
        self._info: TrackInfo | None = None
        self._request.connect(self._carry_out)
        player.track_started.connect(self._track_started)
        player.queue_changed.connect(self._refresh)
        player.state_changed.connect(self._state_changed)
        player.duration_changed.connect(self._duration_changed)
        player.position_changed.connect(self._position_changed)
        player.seeked.connect(self._seeked)
        self._snapshot()

    # -- the bus ----------------------------------------------------------------------
    def publish(self) -> bool:
        """Take the bus name and start answering; False (logged) when there is no session
        bus or the name cannot be had."""
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            log.info("no D-Bus session bus: the player is not published on MPRIS")
            return False
        try:
            conn = open_dbus_connection(bus="SESSION")
        except (OSError, ValueError, KeyError) as exc:
            log.info("cannot reach the D-Bus session bus (%s): not published on MPRIS", exc)
            return False
        for name in (BUS_NAME, f"{BUS_NAME}.instance{os.getpid()}"):
            reply = conn.send_and_get_reply(message_bus.RequestName(name, 4), timeout=5)
            if reply.body and reply.body[0] == 1:  # 1: we are the primary owner
                self._conn, self.bus_name = conn, name
                self._thread = threading.Thread(target=self._serve, name="segue-mpris", daemon=True)
                self._thread.start()
                log.info("published on MPRIS as %s", name)
                return True
        conn.close()
        log.warning("MPRIS: the bus name %s is taken", BUS_NAME)
        return False

    def close(self) -> None:
        """Leave the bus (the window is closing): stop the thread, close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * RECEIVE_TIMEOUT_S + 1)
            self._thread = None
        if self._conn is not None:
            with self._send_lock, contextlib.suppress(OSError):
                self._conn.close()
        self._conn = self.bus_name = None

    def _send(self, message: Message) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            with self._send_lock:
                conn.send(message)
        except OSError as exc:  # the bus went away: the player carries on without it
            log.info("MPRIS: cannot send (%s)", exc)

    def _serve(self) -> None:
        conn = self._conn
        while conn is not None and not self._stop.is_set():
            try:
                message = conn.receive(timeout=RECEIVE_TIMEOUT_S)
            except TimeoutError:
                continue
            except (OSError, ValueError) as exc:
                if not self._stop.is_set():
                    log.info("MPRIS: the session bus connection ended (%s)", exc)
                return
            if message.header.message_type == MessageType.method_call:
                try:
                    self._answer(message)
                except Exception:  # one bad request must not end the service; logged
                    log.exception("MPRIS: cannot answer a request")

    def _answer(self, msg: Message) -> None:
        fields = msg.header.fields
        iface = fields.get(HeaderFields.interface, "")
        member = fields.get(HeaderFields.member, "")
        path = fields.get(HeaderFields.path, "")
        signature = fields.get(HeaderFields.signature, "")
        if path != OBJECT_PATH:
            self._send(new_error(msg, "org.freedesktop.DBus.Error.UnknownObject"))
        elif iface == "org.freedesktop.DBus.Introspectable" and member == "Introspect":
            self._send(new_method_return(msg, "s", (INTROSPECTION,)))
        elif iface == "org.freedesktop.DBus.Peer" and member == "Ping":
            self._send(new_method_return(msg))
        elif iface == PROPS_IFACE:
            self._properties(msg, member, msg.body)
        elif (iface, member) in _METHODS or (not iface and member in {m for _, m in _METHODS}):
            if signature != _METHODS.get((iface or PLAYER_IFACE, member), signature):
                self._send(new_error(msg, "org.freedesktop.DBus.Error.InvalidArgs"))
                return
            self._request.emit(member, tuple(msg.body))
            self._send(new_method_return(msg))
        else:
            self._send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def _properties(self, msg: Message, member: str, body: tuple) -> None:
        if member == "GetAll" and len(body) == 1:
            values = self._interface_props(body[0])
            self._send(new_method_return(msg, "a{sv}", (values,)))
        elif member == "Get" and len(body) == 2:
            value = self._interface_props(body[0]).get(body[1])
            if value is None:
                self._send(new_error(msg, "org.freedesktop.DBus.Error.UnknownProperty"))
            else:
                self._send(new_method_return(msg, "v", (value,)))
        elif member == "Set" and len(body) == 3:
            iface, name, (sig, value) = body
            if (iface, name) not in _WRITABLE or sig != "d":
                self._send(new_error(msg, "org.freedesktop.DBus.Error.PropertyReadOnly"))
                return
            if name == "Volume":
                self._request.emit("SetVolume", (float(value),))
            self._send(new_method_return(msg))
        else:
            self._send(new_error(msg, "org.freedesktop.DBus.Error.InvalidArgs"))

    def _interface_props(self, iface: str) -> dict[str, tuple[str, Any]]:
        if iface == ROOT_IFACE:
            return dict(_ROOT_PROPS)
        if iface != PLAYER_IFACE:
            return {}
        with self._lock:
            props = dict(self._props)
            ms, when, advancing = self._clock
        if advancing:
            ms += int((time.monotonic() - when) * 1000)
        props["Position"] = ("x", max(0, ms) * 1000)
        return props

    def _changed(self, values: dict[str, tuple[str, Any]]) -> None:
        if self._conn is None or not values:
            return
        emitter = DBusAddress(OBJECT_PATH, interface=PROPS_IFACE)
        self._send(new_signal(emitter, "PropertiesChanged", "sa{sv}as", (PLAYER_IFACE, values, [])))

    # -- the GUI thread: requests from the desktop ---------------------------------------
    def _carry_out(self, member: str, args: tuple) -> None:
        player = self.player
        if member == "Raise":
            self.raise_requested.emit()
        elif member == "Quit":
            self.quit_requested.emit()
        elif member == "Play":
            player.play()
        elif member == "Pause":
            if player.state == "playing":
                player.pause()
        elif member == "PlayPause":
            player.toggle()
        elif member == "Stop":
            player.stop()
        elif member == "Next":
            player.next()
        elif member == "Previous":
            player.previous()
        elif member == "Seek":
            self.seek_by(int(args[0]))
        elif member == "SetPosition":
            self.set_position(str(args[0]), int(args[1]))
        elif member == "OpenUri":
            self.open_uri(str(args[0]))
        elif member == "SetVolume":
            self.set_volume(float(args[0]))

    def seek_by(self, offset_us: int) -> None:
        if self.player.current_track() is None:
            return
        target = self.player.media.position() * 1000 + offset_us
        length = self.length_us()
        if length is not None and target > length:
            self.player.next()  # MPRIS: seeking past the end acts like Next
            return
        self._seek_to(max(0, target))

    def set_position(self, track_id: str, position_us: int) -> None:
        length = self.length_us()
        if track_id != self.track_id() or position_us < 0:
            return  # a request for a track that is no longer playing is ignored
        if length is not None and position_us > length:
            return
        self._seek_to(position_us)

    def _seek_to(self, position_us: int) -> None:
        self.player.seek(position_us // 1000)  # the player's `seeked` announces it

    def _seeked(self, ms: int) -> None:
        """Any seek (the desktop's, the window's slider, a restored position): tell the bus."""
        self._set_clock(ms)
        self._send(
            new_signal(
                DBusAddress(OBJECT_PATH, interface=PLAYER_IFACE), "Seeked", "x", (ms * 1000,)
            )
        )

    def open_uri(self, uri: str) -> None:
        path = url_path(uri)
        if path is None or not os.path.isfile(path):
            log.info("MPRIS OpenUri: not a local file: %s", uri)
            return
        self.player.play_path(path)

    def set_volume(self, value: float) -> None:
        percent = round(max(0.0, min(1.0, float(value))) * 100)
        self.player.set_volume(percent)
        self.volume_requested.emit(percent)
        self.volume_changed(percent)

    # -- the GUI thread: what the player tells us ----------------------------------------
    def track_id(self) -> str:
        if self.player.current_track() is None:
            return NO_TRACK
        return f"{TRACK_PREFIX}{self._track_no}"

    def length_us(self) -> int | None:
        known = self._info.length_ms if self._info is not None else None
        duration = self.player.media.duration()
        ms = duration if duration > 0 else known
        return int(ms) * 1000 if ms else None

    def metadata(self) -> dict[str, tuple[str, Any]]:
        path = self.player.current_track()
        if path is None:
            return {"mpris:trackid": ("o", NO_TRACK)}
        info = self._info or TrackInfo()
        data: dict[str, tuple[str, Any]] = {
            "mpris:trackid": ("o", self.track_id()),
            "xesam:url": ("s", file_url(path)),
            "xesam:title": ("s", info.title or os.fsdecode(os.path.basename(path))),
        }
        if info.artist:
            data["xesam:artist"] = ("as", [info.artist])
        if info.album:
            data["xesam:album"] = ("s", info.album)
        length = self.length_us()
        if length:
            data["mpris:length"] = ("x", length)
        return data

    def _player_props(self) -> dict[str, tuple[str, Any]]:
        player = self.player
        current = player.current_track() is not None
        status = _STATUS.get(player.state, "Stopped") if current else "Stopped"
        return {
            "PlaybackStatus": ("s", status),
            "Metadata": ("a{sv}", self.metadata()),
            "Volume": ("d", player.volume() / 100),
            "Rate": ("d", 1.0),
            "MinimumRate": ("d", 1.0),
            "MaximumRate": ("d", 1.0),
            "CanGoNext": ("b", bool(player.queue())),
            "CanGoPrevious": ("b", current),
            "CanPlay": ("b", current or bool(player.queue())),
            "CanPause": ("b", current),
            "CanSeek": ("b", current),
            "CanControl": ("b", True),
        }

    def _snapshot(self) -> dict[str, tuple[str, Any]]:
        """Take the player's state for the bus thread; returns what changed."""
        props = self._player_props()
        with self._lock:
            changed = {k: v for k, v in props.items() if self._props.get(k) != v}
            self._props = props
        self._set_clock(self.player.media.position() if self.player.current_track() else 0)
        return changed

    def _set_clock(self, ms: int) -> None:
        advancing = self.player.current_track() is not None and self.player.state == "playing"
        with self._lock:
            self._clock = (int(ms), time.monotonic(), advancing)

    def _refresh(self) -> None:
        self._changed(self._snapshot())

    def volume_changed(self, _percent: int) -> None:
        self._refresh()

    def _track_started(self, path: bytes) -> None:
        self._track_no += 1
        try:
            self._info = self.describe(path)
        except Exception:  # a failing lookup must not stop the player; logged
            log.exception("MPRIS: cannot describe %r", path)
            self._info = None
        self._refresh()

    def _state_changed(self, _state: str) -> None:
        self._refresh()

    def _duration_changed(self, _ms: int) -> None:
        self._refresh()

    def _position_changed(self, ms: int) -> None:
        self._set_clock(ms)
