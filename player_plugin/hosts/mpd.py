"""The MPD host: observe a Music Player Daemon, log its plays, queue suggestions, a radio.

A worker thread owns the python-mpd2 connection (the GUI thread never waits on the
network): it waits in ``idle player playlist`` (waking once a second while playing, to
follow the position), turns what it sees into plays with
:class:`~player_plugin.app.tracking.PlayTracker`, and emits the Host signals with plain
data (Qt queues them to the receiver's thread). ``enqueue`` inserts with ``addid URI pos``
through a command queue. With ``radio=N`` it keeps N suggestions after the current song,
trimming the radio's songs once played. When MPD goes away the track playing ends as
stopped and the worker reconnects with backoff; ``state_changed`` says so in one line.

MPD names songs by URIs relative to its music folder: give ``music_dir`` (``--music-dir``),
or it is read from the server's ``config`` (only answered on a local socket). A music
folder that is a link also names the library's tracks by where it leads (a library scanned
by the real path). Without it plays are matched by their tags. URLs (streams) are matched
by tags too. A radio whose suggestions lie outside that folder says so once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Callable

import mpd
import sqlite_utils
from PySide6.QtCore import QObject, Signal

from player_plugin.app.playlog import TrackTags
from player_plugin.app.radio import Entry, pick, plan
from player_plugin.app.tracking import PlayTracker, Snapshot
from player_plugin.domain.errors import SegueError
from player_plugin.hosts.base import Host
from player_plugin.store.db import open_db

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0  # a command MPD does not answer within this is a lost connection
POLL_S = 1.0  # position sample while playing
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
_STATES = {"play": "playing", "pause": "paused", "stop": "stopped"}


class MpdUnreachable(SegueError):
    """MPD did not answer (not running, wrong address) or refused us."""


def _ms(value: object) -> int | None:
    try:
        # any value MPD sends (str, None, ...): float() itself refuses what is not a number
        return int(float(value) * 1000)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _first(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else None


def connect(host: str, port: int, password: str | None = None) -> mpd.MPDClient:
    """A connected client, or :class:`MpdUnreachable` with the reason in one line."""
    client = mpd.MPDClient()
    client.timeout = TIMEOUT_S
    try:
        client.connect(host, port)
        if password:
            client.password(password)
        client.status()  # needs the "read" permission: refused here, not later
    except (OSError, mpd.MPDError) as exc:
        with contextlib.suppress(Exception):
            client.disconnect()
        raise MpdUnreachable(f"MPD at {host}:{port} did not answer: {exc}") from exc
    return client


class _IdleLine:
    """A second connection that only waits: ``idle player playlist``, ended by MPD (a
    change) or by ``noidle``. python-mpd2's blocking client cannot wait on a socket and a
    wake-up pipe at once, so the wait speaks the protocol's two commands itself."""

    def __init__(self, host: str, port: int, password: str | None) -> None:
        if host.startswith("/"):  # a local socket, as python-mpd2 reads such a host
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(TIMEOUT_S)
            self.sock.connect(host)
        else:
            self.sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
        self.file = self.sock.makefile("rwb")
        if not self.file.readline().startswith(b"OK MPD"):
            raise mpd.ConnectionError("not an MPD server")
        if password:
            self._send(b'password "' + password.encode().replace(b'"', b'\\"') + b'"')
            self.finish()

    def _send(self, line: bytes) -> None:
        self.file.write(line + b"\n")
        self.file.flush()

    def start(self) -> None:
        self._send(b"idle player playlist")

    def finish(self) -> list[str]:
        """Read the answer: the subsystems that changed."""
        changed: list[str] = []
        while True:
            line = self.file.readline()
            if not line:
                raise mpd.ConnectionError("MPD closed the connection")
            if line.startswith(b"ACK"):
                raise mpd.CommandError(line.decode(errors="replace").strip())
            if line.rstrip() == b"OK":
                return changed
            if line.startswith(b"changed: "):
                changed.append(line[9:].decode().strip())

    def cancel(self) -> list[str]:
        self._send(b"noidle")
        return self.finish()

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


class MpdHost(Host):
    """A Host for one MPD server. ``start()`` it, ``stop()`` it before the app quits."""

    state_changed = Signal(str)  # "connected to MPD 0.23 at host:port", "MPD lost: …"

    def __init__(
        self,
        host: str = "localhost",
        port: int = 6600,
        *,
        db_path: str | os.PathLike | None = None,
        music_dir: bytes | str | None = None,
        radio: int = 0,
        password: str | None = None,
        clock: Callable[[], int] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.address = (host, int(port))
        self.password = password
        self.db_path = os.fspath(db_path) if db_path is not None else None
        self.music_dir = os.fsencode(music_dir).rstrip(b"/") if music_dir else None
        self.radio = max(0, int(radio))
        self.clock = clock or (lambda: int(time.monotonic() * 1000))
        self.tracker = PlayTracker(self._started, self._ended)
        self.can_queue = True
        self._lock = threading.Lock()
        self._current: bytes | None = None
        self._queue: list[bytes] = []
        self._tags: dict[bytes, TrackTags] = {}
        self._sources: dict[bytes, str] = {}
        self._ours: set[str] = set()  # song ids the radio added
        self._said_outside = False  # the radio's "not in MPD's music folder", said once
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._db: sqlite_utils.Database | None = None
        self.connected = False
        self._last_line = ""
        self._playlist: list[dict] = []
        self._playlist_version: str | None = None

    # -- the Host calls (GUI thread) --------------------------------------------------
    def current_track(self) -> bytes | None:
        with self._lock:
            return self._current

    def queue(self) -> list[bytes]:
        with self._lock:
            return list(self._queue)

    def enqueue(self, path: bytes, *, next: bool = False) -> None:
        if self._stop.is_set():
            return
        self._commands.put(("enqueue", bytes(path), bool(next)))
        os.write(self._wake_w, b"x")

    def track_tags(self, key: bytes) -> TrackTags | None:
        """Tags of a track that is not a library file (a stream, an unknown music folder)."""
        with self._lock:
            return self._tags.get(bytes(key))

    def track_source(self, key: bytes) -> str:
        with self._lock:
            return self._sources.get(bytes(key), "user")

    @property
    def heard_ms(self) -> int | None:
        return self.tracker.heard_now(self.clock()) if self.tracker.current else None

    # -- life -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="segue-mpd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker; the track playing ends as stopped with what was heard. Once."""
        if self._stop.is_set():
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(TIMEOUT_S * 2)
            self._thread = None
        self.tracker.vanished(self.clock())  # the worker is gone: safe on this thread
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the worker -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._connect_loop()
        finally:
            if self._db is not None:  # the radio's connection belongs to this thread
                self._db.close()
                self._db = None

    def _connect_loop(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                client = connect(*self.address, self.password)
            except MpdUnreachable as exc:
                self._lost(str(exc))
            else:
                attempt = 0
                self._serve(client)
                with contextlib.suppress(Exception):
                    client.disconnect()
            if self._stop.is_set():
                break
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            self._stop.wait(delay)

    def _lost(self, line: str) -> None:
        self.connected = False
        self._say(line)
        self.tracker.vanished(self.clock())
        self._publish(None, [])

    def _say(self, line: str) -> None:
        """Emit a state line once (the retry loop would repeat it)."""
        if line != self._last_line:
            self._last_line = line
            self.state_changed.emit(line)

    def _serve(self, client: mpd.MPDClient) -> None:
        host, port = self.address
        self.connected = True
        self._playlist_version = None  # a restarted MPD numbers its playlists anew
        self._say(f"connected to MPD {client.mpd_version} at {host}:{port}")
        if self.music_dir is None:
            with contextlib.suppress(mpd.MPDError, OSError, KeyError):
                self.music_dir = os.fsencode(client.config()).rstrip(b"/")
        if self.music_dir is None:
            log.warning(
                "MPD's music folder is unknown (give --music-dir): plays are matched by "
                "their tags%s",
                ", and the radio is off" if self.radio else "",
            )
        idle: _IdleLine | None = None
        try:
            idle = _IdleLine(host, port, self.password)
            while not self._stop.is_set():
                playing = self._tick(client)
                self._run_commands(client)
                idle.start()
                ready, _, _ = select.select(
                    [idle.fileno(), self._wake_r], [], [], POLL_S if playing else 30.0
                )
                if idle.fileno() in ready:
                    idle.finish()
                else:
                    idle.cancel()
                if self._wake_r in ready:
                    os.read(self._wake_r, 512)
        except (OSError, mpd.MPDError) as exc:
            self._lost(f"MPD lost ({type(exc).__name__}: {exc}); reconnecting")
        finally:
            if idle is not None:
                idle.close()

    def _key(self, song: dict) -> tuple[bytes, bytes | None]:
        uri = str(song.get("file", ""))
        if "://" not in uri and self.music_dir is not None:
            path = self.music_dir + b"/" + os.fsencode(uri)
            return path, path
        return os.fsencode(uri), None

    def _uri(self, path: bytes) -> str | None:
        """*path* as MPD names it (relative to its music folder), None outside it."""
        for root in _roots(self.music_dir):
            if path.startswith(root + b"/"):
                return os.fsdecode(path[len(root) + 1 :])
        return None

    def _tick(self, client: mpd.MPDClient) -> bool:
        """Look at MPD once: plays, the published queue, the radio. True while playing."""
        status = client.status()
        version = status.get("playlist")
        if version is None or version != self._playlist_version:  # changed: read it again
            self._playlist = client.playlistinfo()
            self._playlist_version = version
        playlist = self._playlist
        now = self.clock()
        pos = int(status["song"]) if "song" in status else None
        song = playlist[pos] if pos is not None and pos < len(playlist) else {}
        state = _STATES.get(status.get("state", "stop"), "stopped")
        if song:
            key, path = self._key(song)
            tags = TrackTags(
                artist=_first(song.get("artist")),
                title=_first(song.get("title")),
                album=_first(song.get("album")),
                duration_ms=_ms(song.get("duration") or song.get("time")),
                mbid=_first(song.get("musicbrainz_trackid")),
            )
            with self._lock:
                self._tags[key] = tags
            snap = Snapshot(
                key,
                state,
                _ms(status.get("elapsed")),
                _ms(status.get("duration")) or tags.duration_ms,
                path,
                tags,
                instance=song.get("id"),
            )
        else:
            snap = Snapshot(None, "stopped")
        self.tracker.update(snap, now)
        entries = [
            Entry(s.get("id"), self._key(s)[1] or self._key(s)[0], s.get("id") in self._ours)
            for s in playlist
        ]
        after = [e.path for e in entries[pos + 1 :]] if pos is not None else []
        self._publish(self.tracker.current.key if self.tracker.current else None, after)
        if self.radio and state == "playing":
            self._keep_radio(client, entries, pos)
        return state == "playing"

    def _publish(self, current: bytes | None, after: list) -> None:
        with self._lock:
            changed = after != self._queue
            self._current, self._queue = current, [bytes(p) for p in after if p]
        if changed:
            self.queue_changed.emit()

    def _keep_radio(self, client: mpd.MPDClient, entries: list[Entry], pos: int | None) -> None:
        todo = plan(entries, pos, self.radio)
        for song_id in todo.trim:
            client.deleteid(song_id)
            self._ours.discard(song_id)
        if not todo.add or self.db_path is None or self.music_dir is None:
            return
        if self._db is None:
            self._db = open_db(self.db_path)  # this thread's own connection
        queued = [e.path for e in entries if e.path]
        playing = entries[pos].path if pos is not None and pos < len(entries) else None
        try:
            paths = pick(self._db, todo.add, playing=playing, queued=queued)
        except Exception as exc:  # no suggestions must never stop the logging
            log.warning("radio: no suggestions: %s", exc)
            return
        uris = [self._uri(path) for path in paths]
        outside = [path for path, uri in zip(paths, uris, strict=True) if uri is None]
        if outside and not self._said_outside:
            self._said_outside = True
            log.warning(
                "radio: %s is not in MPD's music folder %s: is --music-dir right?",
                os.fsdecode(outside[0]),
                os.fsdecode(self.music_dir),
            )
        for uri in uris:
            if uri is None:
                continue
            try:
                song_id = client.addid(uri)
            except mpd.CommandError as exc:  # not in MPD's database (not updated yet)
                log.info("radio: MPD refused %s: %s", uri, exc)
                continue
            self._ours.add(str(song_id))
            log.info("radio: queued %s", uri)

    def _run_commands(self, client: mpd.MPDClient) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            _, path, next_ = command
            uri = self._uri(path)
            if uri is None:
                self._say(f"not in MPD's music folder: {os.fsdecode(path)}")
                continue
            try:
                if next_:
                    status = client.status()
                    where = int(status["song"]) + 1 if "song" in status else None
                    client.addid(uri, where) if where is not None else client.addid(uri)
                else:
                    client.addid(uri)
            except mpd.CommandError as exc:
                self._say(f"MPD refused {uri}: {exc}")

    # -- tracker callbacks (worker thread, or the GUI thread after stop) ----------------
    def _started(self, snap: Snapshot) -> None:
        with self._lock:
            ours = snap.instance is not None and snap.instance in self._ours
            # snap.key is bytes here: the tracker starts only snapshots that have a track
            self._sources[snap.key] = "autoplay" if ours else "user"  # type: ignore[index]
            self._current = snap.key  # current_track() agrees once the signal arrives
        self.track_started.emit(snap.key)

    def _ended(self, snap: Snapshot, heard: int, reason: str) -> None:
        with self._lock:  # a slot asking current_track() must not see the ended track
            self._current = None
        self.track_ended.emit(snap.key, int(heard), reason)


@functools.cache
def _roots(music_dir: bytes | None) -> tuple[bytes, ...]:
    """The names of MPD's music folder here: as given, and where its links lead."""
    if music_dir is None:
        return ()
    real = os.path.realpath(music_dir)
    return (music_dir,) if real == music_dir else (music_dir, real)
