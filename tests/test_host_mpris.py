"""`segue listen --host mpris:mpv` against a real mpv with mpv-mpris on a private session
bus, driven with playerctl: plays, a seek, a pause, skips and quitting mid-track give the
right ms heard (±1.5 s) and end reasons; a stream URL and files outside the library are
kept with their tags; no session bus is one line and exit status 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from player_support import need, segue_process, wait_for, wait_line, write_tracks
from PySide6.QtCore import Qt
from ui_support import scanned

from player_plugin.hosts.mpris import MprisHost

pytestmark = pytest.mark.timeout(120)
TOLERANCE_MS = 1500


@pytest.fixture
def bus(tmp_path):
    """A private session bus: its address, for the players and the listener."""
    need("dbus-daemon")
    need("mpv")
    need("playerctl")
    if not os.path.exists("/etc/mpv/scripts/mpris.so"):
        pytest.skip("mpv-mpris is not installed (scripts/setup-system.sh installs it)")
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    address = daemon.stdout.readline().strip()
    yield {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
    daemon.terminate()
    daemon.wait(10)


def mpv(env, *urls):
    return subprocess.Popen(
        ["mpv", "--no-video", "--ao=null", "--idle=yes", "--no-terminal", *map(str, urls)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def ctl(env, *args) -> str:
    done = subprocess.run(
        ["playerctl", "-p", "mpv", *args], env=env, capture_output=True, text=True, timeout=10
    )
    return done.stdout.strip()


def plays(db):
    return list(db.query("SELECT * FROM plays ORDER BY id"))


def stop(proc):
    proc.terminate()  # SIGTERM: a clean stop
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_a_scripted_mpv_session(bus, tmp_path, db, db_path):
    music = tmp_path / "music"
    files = write_tracks(music, 3)
    scanned(db, music)
    listen = segue_process(db_path, "-v", "listen", "--host", "mpris:mpv", env=bus)
    player = None
    try:
        wait_line(listen, "listening to")  # watching the bus before mpv starts
        player = mpv(bus, *files)
        wait_for(lambda: len(plays(db)) == 1, 15, 0.05)
        time.sleep(3)
        heard_a = float(ctl(bus, "position")) * 1000  # what the player itself says
        ctl(bus, "next")
        t_b = time.monotonic()
        wait_for(lambda: len(plays(db)) == 2, 10, 0.05)
        time.sleep(2)
        t_seek = time.monotonic()
        ctl(bus, "position", "30")  # a seek: the jump is not heard
        time.sleep(2)
        ctl(bus, "pause")
        t_pause = time.monotonic()
        time.sleep(2)  # paused: not heard
        ctl(bus, "play")
        t_play = time.monotonic()
        time.sleep(1)
        ctl(bus, "next")
        t_next = time.monotonic()
        heard_b = ((t_seek - t_b) + (t_pause - t_seek) + (t_next - t_play)) * 1000
        wait_for(lambda: len(plays(db)) == 3, 10, 0.05)
        time.sleep(2)
        player.terminate()  # the player quits mid-track
        t_quit = time.monotonic()
        player.wait(10)
        wait_for(lambda: plays(db)[-1]["reason"] is not None, 10, 0.05)
        heard_c = (t_quit - t_next) * 1000
    finally:
        if player is not None and player.poll() is None:
            player.kill()
        status, err = stop(listen)
    assert status == 0, err
    rows = plays(db)
    assert [r["reason"] for r in rows] == ["skipped", "skipped", "stopped"], err
    for row, expected in zip(rows, (heard_a, heard_b, heard_c), strict=True):
        assert abs(row["ms_played"] - expected) <= TOLERANCE_MS, (row["ms_played"], expected)
    assert all(r["track_id"] is not None and r["source"] == "user" for r in rows)
    assert "following mpv" in err  # (quitting, mpv may say Stopped before it goes away)


def test_a_slot_sees_the_player_as_the_signal_says(qtbot, bus, tmp_path, monkeypatch):
    """When track_ended arrives, current_track() no longer names the ended track (and on
    track_started it names the new one): a slot asking it must not see the past."""
    files = write_tracks(tmp_path / "music", 1)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus["DBUS_SESSION_BUS_ADDRESS"])
    host = MprisHost("mpv")
    seen: list[tuple[str, bytes, bytes | None]] = []
    # run on the emitting (worker) thread at the moment of emission: no luck in the timing
    direct = Qt.ConnectionType.DirectConnection
    host.track_started.connect(
        lambda path: seen.append(("started", path, host.current_track())), direct
    )
    host.track_ended.connect(
        lambda path, _ms, _why: seen.append(("ended", path, host.current_track())), direct
    )
    player = None
    try:
        host.start()
        player = mpv(bus, *files)
        qtbot.waitUntil(lambda: len(seen) == 1, timeout=15_000)
        ctl(bus, "stop")
        qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    finally:
        host.stop()
        if player is not None:
            player.terminate()
            player.wait(10)
    first = bytes(files[0])
    assert seen == [("started", first, first), ("ended", first, None)]


def test_streams_and_files_outside_the_library_keep_their_tags(bus, tmp_path, db, db_path):
    outside = write_tracks(tmp_path / "elsewhere", 1)[0]  # the library is empty
    listen = segue_process(db_path, "listen", "--host", "mpris", env=bus)
    player = None
    try:
        time.sleep(1.0)
        player = mpv(bus, outside, "av://lavfi:sine=frequency=300:duration=60")
        wait_for(lambda: len(plays(db)) == 1, 15, 0.05)
        time.sleep(2)
        ctl(bus, "next")
        t_next = time.monotonic()
        wait_for(lambda: len(plays(db)) == 2, 10, 0.05)
        time.sleep(3)
        ctl(bus, "stop")
        heard = (time.monotonic() - t_next) * 1000
        wait_for(lambda: plays(db)[-1]["reason"] is not None, 10, 0.05)
    finally:
        if player is not None:
            player.terminate()
            player.wait(10)
        status, err = stop(listen)
    assert status == 0, err
    first, stream = plays(db)
    assert first["track_id"] is None and (first["artist"], first["title"]) == ("Artist A", "Tone 0")
    assert first["reason"] == "skipped"
    assert stream["track_id"] is None and "sine" in stream["title"]
    assert stream["reason"] == "stopped" and abs(stream["ms_played"] - heard) <= TOLERANCE_MS


def test_no_session_bus_is_one_line(segue, monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    result = segue("listen", "--host", "mpris")
    assert result.status == 2 and "session bus" in result.err
    assert len(result.err.strip().splitlines()) == 1
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    result = segue("listen", "--host", "mpris:strawberry")
    assert result.status == 2 and "session bus" in result.err
    assert segue("listen", "--host", "mpris", "--radio", "2").status == 2


BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def shared_folder():
    """A folder VLC (run as nobody: it refuses root) can read: /tmp, mode 755."""
    folder = tempfile.mkdtemp(prefix="segue-vlc-")
    os.chmod(folder, 0o755)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_vlc_queues_a_suggestion_after_the_current_track(qtbot, shared_folder, monkeypatch):
    need("cvlc")
    need("setpriv")
    need("dbus-daemon")
    if os.geteuid() != 0:
        pytest.skip("running VLC as another user (it refuses root) needs root here")
    first, second = write_tracks(shared_folder / "music", 2)
    for path in (shared_folder / "music", first.parent, second.parent):
        os.chmod(path, 0o755)
    sock = shared_folder / "bus.sock"
    (shared_folder / "bus.conf").write_text(BUS_CONF.format(sock=sock))
    daemon = subprocess.Popen(
        ["dbus-daemon", "--nofork", f"--config-file={shared_folder / 'bus.conf'}"],
        stderr=subprocess.DEVNULL,
    )
    vlc = None
    host = None
    try:
        wait_for(sock.exists, 10, 0.05)
        os.chmod(sock, 0o777)
        address = f"unix:path={sock}"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        vlc = subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "env", f"HOME={shared_folder}", f"DBUS_SESSION_BUS_ADDRESS={address}",
             "cvlc", "--intf", "dummy", "--control", "dbus", "--aout", "dummy", "--no-video",
             str(first)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        host = MprisHost("vlc")
        with qtbot.waitSignal(host.track_started, timeout=40_000) as started:
            host.start()
        assert started.args[0] == bytes(first)
        assert host.can_queue  # VLC: TrackList.CanEditTracks
        with qtbot.waitSignal(host.queue_changed, timeout=10_000):
            host.enqueue(bytes(second))  # the worker sends AddTrack on its next look
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
        with qtbot.waitSignal(host.track_started, timeout=10_000) as started:
            ctl_vlc = ["playerctl", "-p", "vlc", "next"]
            subprocess.run(ctl_vlc, env=env, timeout=10, check=False)
        assert started.args[0] == bytes(second)  # the queued file plays next
    finally:
        if host is not None:
            host.stop()
        if vlc is not None:
            vlc.terminate()
            vlc.wait(10)
        daemon.terminate()
        daemon.wait(10)
