"""Real external players for the host tests: MPD on a free port in a temp folder, mpv with
mpv-mpris on a private session bus, and a library of minute-long tagged tones.

Each helper skips the test (with the reason) only when the player's binary is absent.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
from audio_fixtures import tag_file, tone

RATE = 8000  # mono 8 kHz FLAC tones: ~1 MB a minute at most


def need(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        pytest.skip(f"{binary} is not installed (scripts/setup-system.sh installs it)")
    return found


def write_tracks(root: Path, count: int, *, seconds: float = 60.0) -> list[Path]:
    """*count* tagged FLAC tones of *seconds* each under *root* (4 artists)."""
    paths = []
    for i in range(count):
        artist = f"Artist {chr(65 + i % 4)}"
        path = root / artist / f"{i:02d} Tone {i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(seconds, 200.0 + 15 * i, RATE, channels=1), RATE, format="FLAC")
        tag_file(
            path,
            "flac",
            {"title": f"Tone {i}", "artist": artist, "album": f"Album {chr(65 + i % 4)}"},
            None,
        )
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mpd:
    """A real mpd with the null output; ``start()``, ``kill()``, ``mpc(...)``."""

    def __init__(self, root: Path, music: Path, *, extra: str = "") -> None:
        self.binary = need("mpd")
        self.root = root
        self.music = music
        self.port = free_port()
        self.config = root / "mpd.conf"
        self.config.write_text(
            f'music_directory "{music}"\n'
            f'db_file "{root}/mpd.db"\n'
            f'state_file "{root}/mpd.state"\n'
            f'pid_file "{root}/mpd.pid"\n'
            f'log_file "{root}/mpd.log"\n'
            'bind_to_address "127.0.0.1"\n'
            f'port "{self.port}"\n'
            'audio_output {\n  type "null"\n  name "null"\n  mixer_type "none"\n}\n' + extra
        )

    def start(self, *, update: bool = True) -> Mpd:
        subprocess.run([self.binary, str(self.config)], check=True, timeout=20, capture_output=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                break
            time.sleep(0.05)
        if update:
            self.mpc("update", "--wait")
        return self

    def mpc(self, *args: str, password: str | None = None) -> str:
        need("mpc")
        host = f"{password}@127.0.0.1" if password else "127.0.0.1"
        done = subprocess.run(
            ["mpc", "-q", "-h", host, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=20,
        )
        if done.returncode:
            raise RuntimeError(f"mpc {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def playlist(self) -> list[str]:
        return [line for line in self.mpc("playlist", "-f", "%file%").splitlines() if line.strip()]

    def kill(self) -> None:
        pid_file = self.root / "mpd.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().strip() or 0)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()


MAIN = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"


def segue_process(db: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """`segue ARGS` as a real process (this worktree's code), stderr captured."""
    root = Path(__file__).resolve().parents[1]
    environ = {**os.environ, "PYTHONPATH": str(root), "QT_QPA_PLATFORM": "offscreen"}
    environ.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, "--db", str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        cwd=root,
    )


def wait_for(predicate, timeout: float = 10.0, step: float = 0.1):
    """Poll *predicate* until it returns something true; that value, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def wait_line(proc: subprocess.Popen, text: str, timeout: float = 60.0) -> str:
    """Read *proc*'s stderr until a line holds *text* (the process is ready); those lines.

    Byte by byte from the pipe itself: a buffered ``readline`` would keep the lines after it
    in Python's buffer, where ``communicate`` (which reads the pipe) never sees them.
    """
    fd = proc.stderr.fileno()
    seen: list[str] = []
    line = bytearray()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
        if byte == b"\n":
            seen.append(line.decode(errors="replace"))
            line.clear()
            if text in seen[-1]:
                return "".join(seen)
    said = "".join(seen) + line.decode(errors="replace")
    raise AssertionError(f"no line with {text!r} from the process: {said}")
