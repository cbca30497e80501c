"""One heap arena for the player's process: every thread allocates from glibc's main arena."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

THREADS = r"""
import ctypes, sys, threading
from player_plugin.cli.heap import one_arena
if sys.argv[1] == "one":
    assert one_arena()
elif sys.argv[1] == "player":  # what `segue gui` does before its window opens
    from player_plugin.cli.gui import _app
    _app()
held = []
def work():
    held.append([bytearray(200_000) for _ in range(20)])  # past pymalloc: malloc's arenas
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def arenas(mode: str) -> int:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", THREADS, mode], capture_output=True, text=True, check=True, env=env
    )
    return sum(1 for line in out.stderr.splitlines() if line.startswith("Arena "))


def test_one_arena_keeps_every_thread_in_one_heap() -> None:
    # without it each new thread that allocates gets an arena of its own
    assert arenas("default") > 1
    assert arenas("one") == 1


def test_the_player_starts_with_one_arena() -> None:
    assert arenas("player") == 1
