"""The player's state survives a kill: the full player (``segue gui``) is started as a
subprocess, its queue, track, position, volume, shuffle, repeat and window size are
changed, it is killed with SIGKILL (no quit, no save on the way out), and a restarted
player shows them all again, the track paused where it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from audio_fixtures import write_audio

from player_plugin.app.importing import ImportSession
from player_plugin.app.player_state import PlayerState, load_state, save_state
from player_plugin.store.db import open_db
from player_plugin.ui.prefs import Prefs

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("state_player.py")


def start(db: Path, config: Path, mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    env.update(XDG_CONFIG_HOME=str(config), PYTHONFAULTHANDLER="1")
    args = [sys.executable, str(DRIVER), str(db), mode]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def line_starting(process: subprocess.Popen, word: str) -> dict:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(word + " "):
            return json.loads(line[len(word) + 1 :])
    raise AssertionError(f"no {word!r} line; stderr: {process.stderr.read()[-2000:]}")


def test_queue_track_position_volume_modes_and_window_survive_a_kill(tmp_path):
    music = tmp_path / "music"
    for i in range(5):  # long enough to seek into; few seconds to write
        write_audio(
            music / f"{i:02d} Tune.flac",
            "flac",
            seconds=8.0,
            freq=200.0 + 50 * i,
            tags={"title": f"Tune {i}", "artist": "Band", "album": "Record"},
        )
    db_path = tmp_path / "segue.db"
    ImportSession(db_path).scan([os.fsencode(music)])
    db = open_db(db_path)
    Prefs(autoplay=False, retrain_policy="manual", analyse_audio=False).save(db)
    db.close()
    config = tmp_path / "config"

    first = start(db_path, config, "change")
    try:
        before = line_starting(first, "saved")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        first.kill()
    assert first.returncode == -signal.SIGKILL
    assert len(before["queue"]) == 3 and before["current"].endswith("00 Tune.flac")

    second = start(db_path, config, "report")
    try:
        after = line_starting(second, "restored")
        assert second.wait(60) == 0
    finally:
        second.kill()
    assert after["queue"] == before["queue"]
    assert after["current"] == before["current"]
    assert after["cued"] and after["playing"] != "playing"  # restored paused
    assert abs(after["position_ms"] - 4_000) < 1_000
    assert (after["volume"], after["shuffle"], after["repeat"]) == (37, "plain", "all")
    assert after["size"] == before["size"] == [760, 540], (before, after)
    assert after["now"] == "Tune 0" and after["marked"]


def test_state_round_trips_any_path_and_ignores_junk(db):
    odd = b"/music/caf\xe9 \xff.flac"  # not UTF-8
    state = PlayerState(queue=[odd, b"/a.flac"], current=odd, position_ms=1234, volume=12)
    save_state(db, state)
    assert load_state(db) == state
    db.execute("UPDATE settings SET value = '[1, 2]' WHERE key = 'player.state'")
    assert load_state(db) == PlayerState()
