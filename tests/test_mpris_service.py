"""The reference player on MPRIS, driven by a real `playerctl` on a private session bus.

The player runs offscreen in a subprocess under `dbus-run-session` with a small library of
real audio (20 s tracks); `playerctl` plays, pauses, seeks, skips and reads metadata and
position, and the test checks both the answers and what the player itself did (its events,
its play log); `dbus-monitor` hears a ``Seeked`` signal for the desktop's seeks and for the
listener dragging the window's own slider. A fake notification server on the same bus
shows that the "now playing" notice is off by default and names the track once switched on.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from audio_fixtures import write_audio

from player_plugin.store.db import open_db
from player_plugin.ui.prefs import Prefs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRACK_S = 20

pytestmark = pytest.mark.skipif(
    not (shutil.which("playerctl") and shutil.which("dbus-run-session")),
    reason="needs playerctl and dbus-run-session (apt-get install playerctl dbus)",
)


class Lines:
    """JSON lines from a subprocess's stdout, read on a thread."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            try:
                self.queue.put(json.loads(line))
            except ValueError:
                continue

    def wait(self, match, timeout: float = 15.0) -> dict:
        """The next line (skipping others) for which *match(line)* is true."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.queue.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if match(line):
                return line
        raise AssertionError(f"no matching line within {timeout} s; seen {self.seen}")

    def drain(self) -> list[dict]:
        lines = []
        while True:
            try:
                lines.append(self.queue.get_nowait())
            except queue.Empty:
                return lines


@pytest.fixture
def library(segue, tmp_path, db_path):
    music = tmp_path / "music"
    paths = []
    for n, freq in enumerate((330, 440, 550), start=1):
        paths.append(
            write_audio(
                music / f"{n:02d} Song {n}.flac",
                "flac",
                seconds=TRACK_S,
                freq=freq,
                tags={"title": f"Song {n}", "artist": "The Testers", "album": "Bus Tour"},
            )
        )
    assert segue("scan", music).status == 0
    db = open_db(db_path)
    Prefs(autoplay=False, retrain_policy="manual", analyse_audio=False).save(db)
    db.close()
    return paths


def test_playerctl_controls_and_reads_the_player(library, segue, tmp_path, db_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "QT_LOGGING_RULES": "qt.multimedia*=false",
    }
    player = subprocess.Popen(
        [
            "dbus-run-session",
            "--",
            sys.executable,
            str(HERE / "mpris_player.py"),
            str(db_path),
            str(tmp_path / "window.ini"),
            *map(str, library),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: the bus daemon goes with it
    )
    events = Lines(player)
    helpers: list[subprocess.Popen] = []
    try:
        ready = events.wait(lambda e: e.get("event") == "ready", timeout=60)
        assert ready["bus"] == "org.mpris.MediaPlayer2.segue"
        bus_env = {**env, "DBUS_SESSION_BUS_ADDRESS": ready["address"]}

        def ctl(*args: str) -> str:
            done = subprocess.run(
                ["playerctl", "-p", "segue", *args],
                env=bus_env,
                capture_output=True,
                text=True,
                timeout=10,
            )
            assert done.returncode == 0, (args, done.stderr)
            return done.stdout.strip()

        notices = subprocess.Popen(
            [sys.executable, str(HERE / "notification_server.py")],
            stdout=subprocess.PIPE,
            text=True,
            env=bus_env,
        )
        helpers.append(notices)
        notified = Lines(notices)
        assert notified.wait(lambda n: "ready" in n)["ready"] is True
        follow = subprocess.Popen(
            [
                "playerctl",
                "-p",
                "segue",
                "metadata",
                "--follow",
                "--format",
                "{{status}}|{{title}}",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=bus_env,
        )
        helpers.append(follow)
        followed: queue.Queue = queue.Queue()
        threading.Thread(
            target=lambda: [followed.put(line.strip()) for line in follow.stdout], daemon=True
        ).start()

        monitor = subprocess.Popen(
            [
                "dbus-monitor",
                "--session",
                "type='signal',interface='org.mpris.MediaPlayer2.Player',member='Seeked'",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=bus_env,
        )
        helpers.append(monitor)
        seeked: queue.Queue = queue.Queue()  # the positions (µs) of Seeked signals
        threading.Thread(
            target=lambda: [
                seeked.put(int(line.split()[1]))
                for line in monitor.stdout
                if line.strip().startswith("int64 ")
            ],
            daemon=True,
        ).start()

        listed = subprocess.run(["playerctl", "-l"], env=bus_env, capture_output=True, text=True)
        assert "segue" in listed.stdout.split()
        assert ctl("status") == "Stopped"

        # play: the queue starts
        ctl("play")
        started = events.wait(lambda e: e.get("event") == "started")
        assert started["path"] == str(library[0])
        events.wait(lambda e: e.get("state") == "playing")
        assert ctl("status") == "Playing"
        fmt = "{{xesam:url}}|{{xesam:title}}|{{xesam:artist}}|{{xesam:album}}|{{mpris:length}}"
        url, title, artist, album, length = ctl("metadata", "--format", fmt).split("|")
        assert url == library[0].as_uri()
        assert (title, artist, album) == ("Song 1", "The Testers", "Bus Tour")
        assert abs(int(length) - TRACK_S * 1_000_000) < 200_000
        assert ctl("metadata", "mpris:trackid") == "'/org/segue/track/1'"
        assert ctl("metadata", "--format", "{{duration(mpris:length)}}") == "0:20"

        def position_within(low: float, high: float) -> float:
            """The position, read until it is in [low, high) or 10 s have passed."""
            deadline = time.monotonic() + 10
            while not low <= (now := float(ctl("position"))) < high:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            return now

        # position: it moves while playing; SetPosition jumps
        moved = position_within(0.3, TRACK_S)
        assert 0.3 <= moved < TRACK_S, (moved, ctl("status"), events.seen, events.drain())
        # a seek's call returns once the bus thread has handed it to the GUI thread, which
        # seeks and then sends Seeked: the position is read after that; and the media
        # backend seeks asynchronously: a position report from before the jump may still
        # arrive (seen under load), so the answer settles rather than flips
        ctl("position", "12")
        assert seeked.get(timeout=10) == 12_000_000  # the desktop hears every jump
        assert 11.9 <= position_within(11.9, TRACK_S) < TRACK_S
        ctl("position", "2-")  # Seek, relative
        assert 9_900_000 <= seeked.get(timeout=10) < 11_500_000
        assert 9.9 <= position_within(9.9, 11.5) < 11.5
        os.kill(ready["pid"], signal.SIGUSR1)  # the listener drags the window's slider
        assert seeked.get(timeout=10) == 5_000_000
        assert 4.9 <= position_within(4.9, 6.5) < 8

        # pause holds the position
        ctl("pause")
        events.wait(lambda e: e.get("state") == "paused")
        assert ctl("status") == "Paused"
        held = float(ctl("position"))
        time.sleep(0.6)
        assert abs(float(ctl("position")) - held) < 0.05

        # play-pause resumes; next skips to the second track
        ctl("play-pause")
        events.wait(lambda e: e.get("state") == "playing")
        ctl("next")
        assert events.wait(lambda e: e.get("event") == "started")["path"] == str(library[1])
        assert ctl("metadata", "title") == "Song 2"
        # the desktop heard the change (PropertiesChanged), without asking
        end = time.monotonic() + 10
        lines: list[str] = []
        while "Playing|Song 2" not in lines and time.monotonic() < end:
            with contextlib.suppress(queue.Empty):
                lines.append(followed.get(timeout=0.2))
        assert "Playing|Song 1" in lines and "Playing|Song 2" in lines, lines

        # notifications: off by default (no notice for Song 1 or Song 2) ...
        time.sleep(0.3)
        assert notified.drain() == []
        assert segue("settings", "set", "notify_track_change", "true").status == 0
        ctl("next")  # ... and on once switched on: it names the track
        assert events.wait(lambda e: e.get("event") == "started")["path"] == str(library[2])
        notice = notified.wait(lambda n: "summary" in n)
        assert (notice["summary"], notice["body"]) == ("Song 3", "The Testers — Bus Tour")
        assert (notice["app"], notice["icon"]) == ("Segue", "segue")

        # volume both ways: the window's slider follows the desktop
        ctl("volume", "0.3")
        assert events.wait(lambda e: e.get("event") == "volume")["percent"] == 30
        assert float(ctl("volume")) == pytest.approx(0.3)

        # previous goes back (early in a track); stop stops
        ctl("previous")
        assert events.wait(lambda e: e.get("event") == "started")["path"] == str(library[1])
        ctl("stop")
        events.wait(lambda e: e.get("state") == "stopped")
        assert ctl("status") == "Stopped"

        # Raise, then Quit over MPRIS: the player closes cleanly
        for method in ("Raise", "Quit"):
            sent = subprocess.run(
                [
                    "dbus-send",
                    "--session",
                    "--print-reply",
                    "--dest=org.mpris.MediaPlayer2.segue",
                    "/org/mpris/MediaPlayer2",
                    f"org.mpris.MediaPlayer2.{method}",
                ],
                env=bus_env,
                capture_output=True,
                text=True,
                timeout=10,
            )
            assert sent.returncode == 0, sent.stderr
        events.wait(lambda e: e.get("event") == "raised")
        assert player.wait(timeout=30) == 0
    finally:
        for helper in helpers:
            helper.kill()
            helper.wait()
        if player.poll() is None:
            os.killpg(player.pid, signal.SIGKILL)
        _, err = player.communicate(timeout=30)
    assert "Traceback" not in err, err

    # what the player logged: every control reached the real player
    db = open_db(db_path)
    try:
        plays = [
            (r["title"], r["reason"])
            for r in db.query(
                "SELECT t.title, p.reason FROM plays p JOIN tracks t ON t.id = p.track_id"
                " ORDER BY p.id"
            )
        ]
    finally:
        db.close()
    assert plays == [
        ("Song 1", "skipped"),
        ("Song 2", "skipped"),
        ("Song 3", "skipped"),
        ("Song 2", "stopped"),
    ]
