"""`segue analyze` as a person and a script see it: progress on a terminal's stderr, JSON
progress lines with --json, and the audio libraries' warnings in the log, not on stderr."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import write_audio

ROOT = Path(__file__).resolve().parents[1]


def segue_process(*args: str, stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    """`segue ARGS` as its own process (pytest's capture hides how stderr really looks)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    code = "import sys; from player_plugin.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=300,
    )


@pytest.fixture
def odd_library(tmp_path) -> tuple[Path, Path]:
    """Short odd signals (a DC offset, a click, silence, noise, a tone): librosa warns on
    some of them ("Trying to estimate tuning from empty frequency set")."""
    music = tmp_path / "music"
    write_audio(music / "tone", "flac", seconds=1.0)
    sf.write(music / "silence.wav", np.zeros((88200, 2), dtype="float32"), 44100)
    click = np.r_[np.ones(10), np.zeros(22040)].astype("float32")
    sf.write(music / "click.wav", click, 22050)
    sf.write(music / "dc.wav", np.full(44100, 0.5, dtype="float32"), 44100)
    noise = np.random.default_rng(0).standard_normal(12000).astype("float32") * 0.1
    sf.write(music / "short.wav", noise, 22050)
    db = tmp_path / "segue.db"
    assert segue_process("--db", str(db), "scan", str(music)).returncode == 0
    return music, db


def test_library_warnings_go_to_the_log_not_stderr(odd_library):
    _, db = odd_library
    quiet = segue_process("--db", str(db), "analyze", "--workers", "0")
    assert quiet.returncode == 0
    assert quiet.stderr == b"", quiet.stderr.decode()
    assert b"analysed 5" in quiet.stdout
    loud = segue_process("--db", str(db), "analyze", "--workers", "0", "--force", "-v")
    # The same run with -v: the warning was there, and shows as a log record.
    assert b"segue: " in loud.stderr and b"UserWarning: Trying to estimate tuning" in loud.stderr


def test_json_progress_lines_on_stderr(odd_library):
    _, db = odd_library
    done = segue_process("--db", str(db), "analyze", "--workers", "0", "--json")
    assert done.returncode == 0
    result = json.loads(done.stdout)  # stdout: the one result object
    assert result["analysed"] == 5
    lines = [json.loads(line) for line in done.stderr.decode().splitlines()]
    assert lines and all(line["event"] == "progress" for line in lines)
    assert lines[-1]["done"] == lines[-1]["total"] == 5 and lines[-1]["analysed"] == 5


def test_progress_on_a_terminal_and_silence_on_a_pipe(odd_library):
    _, db = odd_library
    piped = segue_process("--db", str(db), "analyze", "--workers", "0", "--force")
    assert piped.returncode == 0 and b"analysed 5/5" not in piped.stderr
    leader, follower = pty.openpty()
    try:
        tty = segue_process(
            "--db", str(db), "analyze", "--workers", "0", "--force", stderr=follower
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert tty.returncode == 0
    assert b"analysed 5/5 (0 failed)" in seen
