"""What is never suggested is decided once (``app.suggest``), so every face agrees:
``segue settings`` sets an excluded genre or folder and both ``segue recommend`` and the
GUI's dock leave it out; the track playing and the queued ones never appear, neither in
``app.suggest`` nor in the dock (also when auto-play or the listener queues one).

A real library (tagged FLAC files, scanned), a real store, the real plugin and dock driven
by pytest-qt (offscreen)."""

from __future__ import annotations

import json
import os

import pytest
from ui_support import played, scanned, write_library

from player_plugin.app.suggest import suggestions
from player_plugin.hosts.base import MemoryHost
from player_plugin.ui.plugin import SeguePlugin

N = 12


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("rules") / "music"
    write_library(root, artists=8, per_artist=3, seconds=0.5)
    return root


@pytest.fixture
def library(segue, db, music):
    tracks = scanned(db, music)
    played(db, tracks, played_ids={t["id"] for t in tracks[:16]})
    # a small library: let recent plays come back, so exclusions are what leaves tracks out
    for key, value in (("exclude_last", "0"), ("autoplay", "false"), ("retrain_policy", "manual")):
        assert segue("settings", "set", key, value).status == 0
    return tracks


def cli_ids(segue, db, n: int = N) -> set[int]:
    result = segue("recommend", "--json", "-n", str(n))
    assert result.status == 0, result.err
    by_path = {os.fsdecode(bytes(p)): int(i) for i, p in db.execute("SELECT id, path FROM tracks")}
    return {by_path[item["path"]] for item in result.json["items"]}


def dock_ids(qtbot, db_path, track, *, queue=()) -> tuple[set[int], list[int]]:
    """Start *track* in a fresh plugin (it reads the stored settings) and return the ids
    the dock shows and the ids of its rows."""
    plugin = SeguePlugin(MemoryHost(), db_path)
    dock = plugin.make_dock()
    qtbot.addWidget(dock)
    try:
        for path in queue:
            plugin.host.enqueue(path)
        with qtbot.waitSignal(plugin.suggestions_changed, timeout=15_000):
            plugin.host.play(bytes(track["path"]))
        qtbot.waitUntil(lambda: len(dock.rows) == len(plugin.items), timeout=5_000)
        return {int(i.track_id) for i in plugin.items}, [r.track_id for r in dock.rows]
    finally:
        plugin.shutdown()


def genres_of(library, ids: set[int]) -> set[str]:
    return {g for t in library if t["id"] in ids for g in json.loads(t["genres"])}


def test_an_excluded_genre_leaves_the_cli_and_the_dock(qtbot, segue, db, db_path, library):
    # before: Jazz is suggested by both faces (so the check below can fail)
    assert "Jazz" in genres_of(library, cli_ids(segue, db))
    shown, _ = dock_ids(qtbot, db_path, library[2])
    assert "Jazz" in genres_of(library, shown)

    result = segue("settings", "set", "excluded_genres", '["jazz"]')  # any letter case
    assert result.status == 0, result.err
    assert segue("settings", "get", "excluded_genres", "--json").json == {
        "excluded_genres": ["jazz"]
    }
    from_cli = cli_ids(segue, db)
    assert len(from_cli) == N and "Jazz" not in genres_of(library, from_cli)
    shown, rows = dock_ids(qtbot, db_path, library[2])
    assert shown and "Jazz" not in genres_of(library, shown)
    assert set(rows) == shown


def test_an_excluded_folder_leaves_the_cli_and_the_dock(qtbot, segue, db, db_path, library, music):
    artist_c = {t["id"] for t in library if t["artist"] == "Artist C"}
    assert artist_c & cli_ids(segue, db)
    result = segue("settings", "set", "excluded_folders", str(music / "Artist C") + "/")
    assert result.status == 0, result.err
    stored = segue("settings", "get", "excluded_folders").out.strip()
    assert stored == f'["{music / "Artist C"}"]'  # a list, as JSON; no trailing slash
    from_cli = cli_ids(segue, db)
    assert len(from_cli) == N and not artist_c & from_cli
    shown, _ = dock_ids(qtbot, db_path, library[2])
    assert shown and not artist_c & shown
    # a folder whose name merely starts the same is not excluded
    segue("settings", "set", "excluded_folders", str(music / "Artist"))
    assert artist_c & cli_ids(segue, db, 24)


def test_playing_and_queued_tracks_are_never_suggested(db, library):
    top = [s.track_id for s in suggestions(db, N).items]
    path = {t["id"]: bytes(t["path"]) for t in library}
    playing, queued = path[top[0]], [path[top[1]], path[top[2]]]
    found = suggestions(db, N, playing=playing, queued=queued)
    assert len(found.items) == N
    assert not set(top[:3]) & {s.track_id for s in found.items}
    # the same rules on the uncached path (an anchor: the track after which to suggest)
    anchored = suggestions(db, N, after=path[top[3]], playing=playing, queued=queued)
    assert not set(top[:3]) & {s.track_id for s in anchored.items}


def test_the_dock_never_shows_a_playing_or_queued_track(qtbot, segue, db_path, library):
    assert segue("settings", "set", "autoplay", "true").status == 0
    plugin = SeguePlugin(MemoryHost(), db_path)
    host = plugin.host
    dock = plugin.make_dock()
    qtbot.addWidget(dock)
    seen: list[set[bytes]] = []
    wrong: list[bytes] = []

    def check(items) -> None:  # at every update, against the player's state right then
        taken = set(host.queue()) | {host.current_track()}
        seen.append({bytes(i.path) for i in items})
        wrong.extend(bytes(i.path) for i in items if bytes(i.path) in taken)

    plugin.suggestions_changed.connect(check)
    try:
        host.play(bytes(library[0]["path"]))
        qtbot.waitUntil(lambda: len(host.queue()) == 1, timeout=15_000)  # auto-play's pick
        picked = host.queue()[0]
        qtbot.waitUntil(
            lambda: bool(seen and picked not in seen[-1] and plugin.items), timeout=15_000
        )
        # the listener queues the dock's top suggestion from elsewhere (the library table)
        chosen = bytes(plugin.items[0].path)
        host.enqueue(chosen)
        qtbot.waitUntil(lambda: chosen not in seen[-1], timeout=15_000)
        assert chosen not in [bytes(i.path) for i in plugin.items]
        assert not wrong
        dock_paths = {bytes(r.item.path) for r in dock.rows}
        assert not dock_paths & (set(host.queue()) | {host.current_track()})
    finally:
        plugin.shutdown()
