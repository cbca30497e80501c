"""The reference player's engine plays real files through QtMultimedia (no audio device
needed) and reports how each track ended: completed, skipped, stopped, error."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from player_plugin.hosts.reference import ReferencePlayer


def wav(path, seconds=0.4):
    t = np.arange(int(22050 * seconds)) / 22050
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 22050)
    return bytes(str(path), "utf-8")


@pytest.fixture
def player(qtbot):
    player = ReferencePlayer()
    ended: list[tuple] = []
    started: list[bytes] = []
    player.track_ended.connect(lambda *args: ended.append(args))
    player.track_started.connect(started.append)
    player.ended, player.started = ended, started
    yield player
    player.shutdown()


def test_queue_plays_through_and_reports_completed(player, qtbot, tmp_path):
    a, b = wav(tmp_path / "a.wav"), wav(tmp_path / "b.wav")
    player.enqueue(a)
    player.enqueue(b)
    player.play()
    qtbot.waitUntil(lambda: len(player.ended) == 2, timeout=10_000)
    assert player.started == [a, b]
    assert [(p, r) for p, _, r in player.ended] == [(a, "completed"), (b, "completed")]
    assert all(300 <= ms <= 500 for _, ms, _ in player.ended)  # heard, not a guess
    qtbot.waitUntil(lambda: player.state == "stopped", timeout=5_000)
    assert player.current_track() is None


def test_next_is_a_skip_and_stop_is_a_stop(player, qtbot, tmp_path):
    a, b = wav(tmp_path / "a.wav", 5), wav(tmp_path / "b.wav", 5)
    player.play_path(a)
    player.enqueue(b)
    qtbot.waitUntil(lambda: player.media.position() > 100, timeout=5_000)
    player.next()
    assert player.ended[-1][0] == a and player.ended[-1][2] == "skipped"
    assert player.current_track() == b and player.queue() == []
    player.stop()
    assert player.ended[-1][0] == b and player.ended[-1][2] == "stopped"
    assert player.current_track() is None


def test_previous_goes_back_and_requeues(player, qtbot, tmp_path):
    a, b = wav(tmp_path / "a.wav", 5), wav(tmp_path / "b.wav", 5)
    player.play_path(a)
    player.play_path(b)
    player.previous()
    assert player.current_track() == a
    assert player.queue() == [b]


def test_queue_reorder_and_remove(player, qtbot, tmp_path):
    paths = [wav(tmp_path / f"{i}.wav") for i in range(3)]
    for p in paths:
        player.enqueue(p)
    with qtbot.waitSignal(player.queue_changed):
        player.move(2, 0)
    assert player.queue() == [paths[2], paths[0], paths[1]]
    player.remove(1)
    assert player.queue() == [paths[2], paths[1]]
    player.enqueue(paths[0], next=True)
    assert player.queue()[0] == paths[0]


def test_an_unplayable_file_ends_with_error_and_moves_on(player, qtbot, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file" * 10)
    good = wav(tmp_path / "good.wav")
    errors: list[str] = []
    player.error.connect(errors.append)
    player.enqueue(good)
    player.play_path(bytes(str(bad), "utf-8"))
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert player.ended[0][2] == "error"
    assert "bad.wav" in errors[0] and "\n" not in errors[0]
    qtbot.waitUntil(lambda: good in player.started, timeout=5_000)


def test_volume_and_seek(player, qtbot, tmp_path):
    player.set_volume(35)
    assert player.volume() == 35
    a = wav(tmp_path / "a.wav", 5)
    player.play_path(a)
    qtbot.waitUntil(lambda: player.media.duration() > 0, timeout=5_000)
    player.seek(3000)
    qtbot.waitUntil(lambda: player.media.position() >= 3000, timeout=5_000)
    assert player.heard_ms < 1500  # a seek is not listening
