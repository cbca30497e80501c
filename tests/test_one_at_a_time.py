"""Processes holding the same lock run their blocks one after another, never together."""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from pathlib import Path

HOLD = r"""
import sys, time
from player_plugin.library.one_at_a_time import one_at_a_time
name, log = sys.argv[1], sys.argv[2]
with one_at_a_time(name):
    start = time.monotonic()
    time.sleep(0.3)
    with open(log, "a") as f:
        f.write(f"{start} {time.monotonic()}\n")
"""


def test_two_processes_take_turns(tmp_path: Path) -> None:
    name = f"test-{uuid.uuid4().hex}"
    log = tmp_path / "spans"
    procs = [subprocess.Popen([sys.executable, "-c", HOLD, name, str(log)]) for _ in range(3)]
    assert [p.wait(30) for p in procs] == [0, 0, 0]
    spans = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end  # each began after the one before had finished
