"""`segue listen --host mpd` against a real mpd (null output, temp config, free port): the
radio keeps three suggestions ahead through 20 skips, every play and skip is logged with
its reason, a seek is not heard, MPD killed mid-track ends the play as stopped and the
host reconnects, tracks outside the library keep their tags; bad inputs get one line."""

from __future__ import annotations

import os
import signal
import time

import mpd
import pytest
from player_support import Mpd, need, segue_process, wait_for, wait_line, write_tracks
from PySide6.QtCore import Qt
from ui_support import scanned

from player_plugin.hosts.mpd import MpdHost

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def music(tmp_path):
    return tmp_path / "music"


@pytest.fixture
def server(tmp_path, music):
    need("mpd")
    need("mpc")
    write_tracks(music, 16)
    daemon = Mpd(tmp_path, music).start()
    yield daemon
    daemon.kill()


def client(port: int) -> mpd.MPDClient:
    c = mpd.MPDClient()
    c.timeout = 5
    c.connect("127.0.0.1", port)
    return c


def ahead(c: mpd.MPDClient) -> int:
    status = c.status()
    if "song" not in status:
        return -1
    return int(status["playlistlength"]) - int(status["song"]) - 1


def plays(db):
    return list(db.query("SELECT * FROM plays ORDER BY id"))


def stop(proc) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_radio_keeps_three_ahead_through_twenty_skips(server, db, db_path, music):
    tracks = scanned(db, music)
    listen = segue_process(
        db_path, "-v", "listen", "--host", f"mpd:127.0.0.1:{server.port}", "--music-dir", str(music)
    )
    try:
        c = client(server.port)
        wait_for(lambda: ahead(c) == -1 and listen.poll() is None, 10)
        time.sleep(1.0)  # the listener connects
        server.mpc("add", os.path.relpath(tracks[0]["path"].decode(), music))
        server.mpc("play")
        wait_for(lambda: ahead(c) == 3, 15)
        second = segue_process(db_path, "listen", "--host", f"mpd:127.0.0.1:{server.port}")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2 and "already logging" in err  # one logger per player
        assert len(err.strip().splitlines()) == 1
        lengths = []
        for _ in range(20):
            server.mpc("next")
            wait_for(lambda: ahead(c) == 3 and c.status().get("state") == "play", 10, 0.05)
            lengths.append(int(c.status()["playlistlength"]))
        server.mpc("stop")
        wait_for(lambda: len(plays(db)) == 21 and plays(db)[-1]["reason"] is not None, 10)
        c.disconnect()
    finally:
        status, err = stop(listen)
    assert status == 0, err
    rows = plays(db)
    assert [r["reason"] for r in rows] == ["skipped"] * 20 + ["stopped"]
    assert rows[0]["source"] == "user" and {r["source"] for r in rows[1:]} == {"autoplay"}
    assert all(r["track_id"] is not None and r["ended_at"] is not None for r in rows)
    assert max(lengths) <= 5  # played radio tracks are trimmed, not piled up
    assert "radio: queued" in err and "skipped after" in err


def test_seek_kill_reconnect_and_tracks_outside_the_library(server, tmp_path, db, db_path, music):
    extra = write_tracks(tmp_path / "elsewhere", 1)[0]  # tagged like the library's Tone 0
    outside = music / "Outside" / "x.flac"
    outside.parent.mkdir()
    os.replace(extra, outside)
    scanned(db, music / "Artist A")  # the library holds only Artist A's tones
    server.mpc("update", "--wait")
    listen = segue_process(
        db_path,
        "-v",
        "listen",
        "--host",
        f"mpd:127.0.0.1:{server.port}",
        "--music-dir",
        str(music),
        "--radio",
        "0",
    )
    try:
        wait_line(listen, "connected to MPD")
        server.mpc("add", "Artist A/00 Tone 0.flac")
        server.mpc("add", "Artist B/01 Tone 1.flac")
        server.mpc("play")
        wait_for(lambda: len(plays(db)) == 1, 10, 0.05)
        time.sleep(3)
        c = client(server.port)  # what MPD itself says was played (it lags under load)
        before_seek = float(c.status()["elapsed"])
        c.seek(0, 30)  # a jump: not heard
        time.sleep(2)
        heard_first = (before_seek + float(c.status()["elapsed"]) - 30) * 1000
        c.next()  # skipped; Tone 1 (Artist B) is in no library
        wait_for(lambda: len(plays(db)) == 2, 10, 0.05)
        time.sleep(2)
        heard_second = float(c.status()["elapsed"]) * 1000
        c.disconnect()
        server.kill()  # mid-track: the play ends as stopped, the host retries
        wait_for(lambda: plays(db)[1]["reason"] is not None, 10, 0.05)
        (tmp_path / "mpd.state").unlink(missing_ok=True)  # no resumed play of Tone 1
        server.start(update=False)
        server.mpc("clear")
        server.mpc("add", "Outside/x.flac")
        server.mpc("play")
        wait_for(lambda: len(plays(db)) == 3, 20, 0.05)
        time.sleep(1)
        server.mpc("stop")
        wait_for(lambda: plays(db)[2]["reason"] is not None, 10, 0.05)
    finally:
        status, err = stop(listen)
    assert status == 0, err
    first, second, third = plays(db)
    assert first["reason"] == "skipped" and abs(first["ms_played"] - heard_first) <= 1500
    assert second["reason"] == "stopped" and abs(second["ms_played"] - heard_second) <= 1500
    assert second["track_id"] is None and second["title"] == "Tone 1"  # kept with its tags
    assert "reconnecting" in err and "connected to MPD" in err  # again, after the restart
    assert third["reason"] == "stopped" and third["title"] == "Tone 0"
    assert third["track_id"] is not None  # not in the library by path: matched by its tags


def test_enqueue_inserts_after_the_current_song(qtbot, server, db, db_path, music):
    tracks = scanned(db, music)
    server.mpc("add", "Artist A/00 Tone 0.flac")
    server.mpc("add", "Artist B/01 Tone 1.flac")
    server.mpc("play")
    host = MpdHost("127.0.0.1", server.port, db_path=db_path, music_dir=music)
    try:
        # started inside the wait: the worker may emit before a wait begun later listens
        with qtbot.waitSignal(host.track_started, timeout=10_000) as started:
            host.start()
        assert started.args[0] == bytes(tracks[0]["path"])
        host.enqueue(bytes(tracks[5]["path"]), next=True)
        wait_for(lambda: len(server.playlist()) == 3, 10)
        assert server.playlist()[1] == os.path.relpath(tracks[5]["path"].decode(), music)
        qtbot.waitUntil(lambda: len(host.queue()) == 2, timeout=10_000)
        assert host.queue()[0] == bytes(tracks[5]["path"])
    finally:
        host.stop()


def test_a_slot_sees_the_player_as_the_signal_says(qtbot, server, db, db_path, music):
    """When track_ended arrives, current_track() no longer names the ended track: the
    companion window asked it on stop and kept "Now playing" for a track MPD had stopped."""
    tracks = scanned(db, music)
    server.mpc("add", "Artist A/00 Tone 0.flac")
    server.mpc("play")
    host = MpdHost("127.0.0.1", server.port, db_path=db_path, music_dir=music)
    seen: list[tuple[str, bytes, bytes | None]] = []
    # run on the emitting (worker) thread at the moment of emission: no luck in the timing
    direct = Qt.ConnectionType.DirectConnection
    host.track_started.connect(
        lambda path: seen.append(("started", path, host.current_track())), direct
    )
    host.track_ended.connect(
        lambda path, _ms, _why: seen.append(("ended", path, host.current_track())), direct
    )
    try:
        host.start()
        qtbot.waitUntil(lambda: len(seen) == 1, timeout=10_000)
        server.mpc("stop")
        qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    finally:
        host.stop()
    first = bytes(tracks[0]["path"])
    assert seen == [("started", first, first), ("ended", first, None)]


def test_unreachable_or_refusing_mpd_is_one_line(segue, tmp_path, music):
    port = Mpd(tmp_path, music).port  # nothing listens there
    result = segue("listen", "--host", f"mpd:127.0.0.1:{port}")
    assert result.status == 2 and "did not answer" in result.err
    assert len(result.err.strip().splitlines()) == 1
    write_tracks(music, 1, seconds=1)
    refusing = Mpd(
        tmp_path, music, extra='password "pw@read,add,control"\ndefault_permissions ""\n'
    )
    refusing.start(update=False)
    try:
        result = segue("listen", "--host", f"mpd:127.0.0.1:{refusing.port}")
    finally:
        refusing.kill()
    assert result.status == 2 and "permission" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert segue("listen", "--host", "winamp").status == 2


def test_on_a_local_socket_the_music_folder_comes_from_mpd(qtbot, tmp_path, music):
    need("mpd")
    write_tracks(music, 1)
    sock = tmp_path / "mpd.sock"
    server = Mpd(tmp_path, music, extra=f'bind_to_address "{sock}"\n').start()
    host = MpdHost(str(sock))  # no music_dir given
    try:
        server.mpc("add", "Artist A/00 Tone 0.flac")
        server.mpc("play")
        with qtbot.waitSignal(host.track_started, timeout=10_000) as started:
            host.start()
        assert started.args[0] == os.fsencode(music / "Artist A" / "00 Tone 0.flac")
        assert host.music_dir == os.fsencode(music)
    finally:
        host.stop()
        server.kill()


def test_a_music_folder_that_is_a_link_gets_a_radio_and_a_wrong_one_is_said(
    tmp_path, db, db_path, music
):
    """MPD's music folder a link to the library scanned by its real path: the radio queues
    (it queued nothing, silently); a --music-dir the library is not in: one line says so,
    once. Without -v, `segue listen` says that it listens, the player's state and, at the
    end, how many plays it logged."""
    need("mpd")
    need("mpc")
    write_tracks(music, 8)
    link = tmp_path / "link"
    link.symlink_to(music, target_is_directory=True)
    (tmp_path / "mpd").mkdir()
    server = Mpd(tmp_path / "mpd", link).start()
    tracks = scanned(db, music)  # the library by the real path
    c = client(server.port)
    try:
        for music_dir, queued in ((link, 3), (tmp_path / "elsewhere", 0)):
            c.clear()
            listen = segue_process(
                db_path, "listen", "--host", f"mpd:127.0.0.1:{server.port}",
                "--music-dir", str(music_dir),
            )  # fmt: skip
            try:
                wait_line(listen, f"listening to MPD at 127.0.0.1:{server.port} (Ctrl+C")
                time.sleep(1.0)  # the listener connects
                server.mpc("add", os.path.relpath(tracks[0]["path"].decode(), music))
                server.mpc("play")
                if queued:
                    wait_for(lambda: ahead(c) == 3, 15)
                else:
                    said = wait_line(listen, "is --music-dir right?")
                    assert str(tracks[0]["path"].decode()) not in said  # a suggestion's
                    time.sleep(1.0)  # (the radio tries again on every change)
                    assert ahead(c) == 0
            finally:
                status, err = stop(listen)
            assert status == 0, err
            assert "is --music-dir right?" not in err  # said once
            assert not queued or "segue: connected to MPD" in err  # the player's state, too
            assert err.strip().splitlines()[-1] == "segue: stopped: 1 play logged", err
    finally:
        c.disconnect()
        server.kill()
