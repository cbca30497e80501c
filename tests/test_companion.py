"""The companion window beside a real mpd: its plays are logged through the plugin, the
dock fills with suggestions, the window names the track playing; with another Segue process
logging the player it logs nothing."""

from __future__ import annotations

import pytest
from player_support import Mpd, need, write_tracks
from ui_support import scanned

from player_plugin.app.player_lock import PlayerLock
from player_plugin.hosts.mpd import MpdHost
from player_plugin.ui.companion import CompanionWindow
from player_plugin.ui.prefs import Prefs

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server(tmp_path):
    need("mpd")
    need("mpc")
    write_tracks(tmp_path / "music", 8, seconds=60)
    daemon = Mpd(tmp_path, tmp_path / "music").start()
    yield daemon
    daemon.kill()


@pytest.mark.parametrize("logging_plays", [True, False])
def test_companion_logs_and_suggests(qtbot, server, tmp_path, db, db_path, logging_plays):
    scanned(db, tmp_path / "music")
    Prefs(autoplay=False, retrain_policy="manual").save(db)
    other = None if logging_plays else PlayerLock(db_path, "mpd").acquire()
    host = MpdHost("127.0.0.1", server.port, db_path=db_path, music_dir=tmp_path / "music")
    window = CompanionWindow(host, str(db_path), "mpd", logging_plays=logging_plays)
    qtbot.addWidget(window)
    host.start()
    try:
        server.mpc("add", "Artist A/00 Tone 0.flac")
        server.mpc("add", "Artist B/01 Tone 1.flac")
        server.mpc("play")
        qtbot.waitUntil(lambda: host.current_track() is not None, timeout=10_000)
        server.mpc("next")
        # the host must see the second track play before it stops (else it never began)
        qtbot.waitUntil(
            lambda: (host.current_track() or b"").endswith(b"01 Tone 1.flac"), timeout=10_000
        )
        qtbot.waitUntil(lambda: len(window.plugin.items) > 0, timeout=20_000)
        # the window names what the suggestions follow (it said only "connected to MPD")
        qtbot.waitUntil(lambda: "Now playing: Tone 1\nArtist B" in window.note.text())
        server.mpc("stop")
        qtbot.waitUntil(lambda: host.current_track() is None, timeout=10_000)
        qtbot.wait(300)
        assert window.note.text().startswith("Nothing playing"), window.note.text()
    finally:
        window.close()
        if other is not None:
            other.release()
    rows = list(db.query("SELECT reason FROM plays ORDER BY id"))
    if logging_plays:
        assert [r["reason"] for r in rows] == ["skipped", "stopped"]
    else:
        assert rows == []
    queued = {bytes(p) for p in host.queue()}
    assert not queued & {bytes(i.path) for i in window.plugin.items}
