"""Albums in their own order: tracks numbered by their tags (real FLAC files, scanned into
a real store) come in the album's order, the album playing continued from its next track;
a catalogue without numbers (a history's) gets the lists it got before; a real mpd's radio
plays an album through in order."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import mpd
import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import tag_file, tone
from player_support import Mpd, need, segue_process, wait_for
from ui_support import T0

from player_plugin.app.suggest import suggestions
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play
from player_plugin.library.scanner import scan
from player_plugin.recommend.album_order import in_album_order, next_on_album
from player_plugin.recommend.explain import album_next_reason, link_reason
from player_plugin.recommend.rerank import Reranker, RerankSettings
from player_plugin.recommend.variety import DialRules
from player_plugin.store.catalogue import load_catalogue, load_plays
from player_plugin.store.plays import log_play

# (artist, album, title, disc, track): Low Tide Hours on two discs, Loose Ends unnumbered
TRACKS = [
    ("Glass Harbour", "Low Tide Hours", "Blue Ropes", 2, 1),
    ("Glass Harbour", "Low Tide Hours", "Salt Light", 1, 1),
    ("Glass Harbour", "Low Tide Hours", "Harbour Fog", 1, 3),
    ("Glass Harbour", "Low Tide Hours", "Drift Chart", 1, 2),
    ("Glass Harbour", "Low Tide Hours", "Night Ferry", 2, 2),
    ("Mira Solenne", "Slow Weather", "Still Air", None, 3),
    ("Mira Solenne", "Slow Weather", "Cloud Ledger", None, 1),
    ("Mira Solenne", "Slow Weather", "Rain Index", None, 2),
    ("Nobody", "Loose Ends", "Thread", None, None),
    ("Nobody", "Loose Ends", "Needle", None, None),
]


@pytest.fixture
def library(tmp_path, db):
    """The tracks above as tagged FLAC files, scanned; title → catalogue item."""
    for i, (artist, album, title, disc, track) in enumerate(TRACKS):
        path = tmp_path / "music" / album / f"{title}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(1.0, 220.0 + 20 * i, 22050, channels=1), 22050, format="FLAC")
        tags = {"title": title, "artist": artist, "album": album}
        tags.update({k: v for k, v in (("disc_no", disc), ("track_no", track)) if v})
        tag_file(path, "flac", tags, None)
    scan(db, [os.fsencode(tmp_path / "music")], workers=0)
    catalogue = load_catalogue(db)
    return catalogue, {title: i for i, title in enumerate(catalogue.titles)}


def test_the_next_track_follows_the_album_across_discs(library):
    catalogue, at = library
    assert catalogue.numbered
    follows = {
        title: next_on_album(catalogue, at[title]) for title in at if title not in ("Thread",)
    }
    named = {k: None if v is None else catalogue.titles[v] for k, v in follows.items()}
    assert named == {
        "Salt Light": "Drift Chart",
        "Drift Chart": "Harbour Fog",
        "Harbour Fog": "Blue Ropes",  # disc 1 ends: disc 2 begins
        "Blue Ropes": "Night Ferry",
        "Night Ferry": None,
        "Cloud Ledger": "Rain Index",  # no disc numbers: one disc
        "Rain Index": "Still Air",
        "Still Air": None,
        "Needle": None,  # no track numbers: no order
    }
    reason = album_next_reason(at["Harbour Fog"], at["Drift Chart"], catalogue)
    assert reason == "next on Low Tide Hours, after Glass Harbour – Drift Chart"
    assert link_reason(at["Harbour Fog"], at["Drift Chart"], catalogue) == reason
    assert album_next_reason(at["Blue Ropes"], at["Drift Chart"], catalogue) is None


def test_a_compilation_without_an_album_artist_is_one_album(tmp_path, db):
    """A various-artists album tagged without an album artist was an album per artist (of
    one track each): one folder, one album name, several artists make one album, played in
    its order; the same album name by two artists in two folders stays two albums."""
    files = [
        ("Summer Mix", "Ana Volta", "Heatwave", 1),
        ("Summer Mix", "Brass Kite", "Pier", 2),
        ("Summer Mix", "Cala Moor", "Last Ferry", 3),
        ("Hits A", "Ana Volta", "Old One", 1),
        ("Hits A", "Ana Volta", "Older One", 2),
        ("Hits B", "Brass Kite", "First Hit", 1),
        ("Hits B", "Brass Kite", "Second Hit", 2),
    ]
    for i, (folder, artist, title, track) in enumerate(files):
        path = tmp_path / "music" / folder / f"{title}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(1.0, 220.0 + 20 * i, 22050, channels=1), 22050, format="FLAC")
        album = "Summer Mix" if folder == "Summer Mix" else "Greatest Hits"
        tags = {"title": title, "artist": artist, "album": album, "track_no": track}
        tag_file(path, "flac", tags, None)
    scan(db, [os.fsencode(tmp_path / "music")], workers=0)
    catalogue = load_catalogue(db)
    at = {title: i for i, title in enumerate(catalogue.titles)}
    album = {title: int(catalogue.album[i]) for title, i in at.items()}
    assert album["Heatwave"] == album["Pier"] == album["Last Ferry"] != 0
    assert album["Old One"] == album["Older One"] != album["First Hit"] == album["Second Hit"]
    assert catalogue.titles[next_on_album(catalogue, at["Heatwave"])] == "Pier"
    assert catalogue.titles[next_on_album(catalogue, at["Pier"])] == "Last Ferry"
    assert catalogue.titles[next_on_album(catalogue, at["Old One"])] == "Older One"
    reason = album_next_reason(at["Last Ferry"], at["Pier"], catalogue)
    assert reason == "next on Summer Mix, after Brass Kite – Pier"


def test_a_list_plays_each_album_in_order_and_continues_the_one_playing(library):
    catalogue, at = library
    names = ["Night Ferry", "Thread", "Still Air", "Salt Light", "Needle", "Cloud Ledger"]
    chosen = [at[t] for t in names]

    def titles(items):
        return [catalogue.titles[i] for i in items]

    # each album keeps its places; unnumbered Loose Ends stays as it was
    assert titles(in_album_order(chosen, catalogue)) == [
        "Salt Light",
        "Thread",
        "Cloud Ledger",
        "Night Ferry",
        "Needle",
        "Still Air",
    ]
    # Salt Light, then Drift Chart: the album is played through — its next track,
    # Harbour Fog, heads the list in the place of the album's lowest-ranked (Salt Light)
    drift, salt = at["Drift Chart"], at["Salt Light"]
    through = titles(in_album_order(chosen, catalogue, drift, salt))
    assert through == [
        "Harbour Fog",
        "Night Ferry",
        "Thread",
        "Cloud Ledger",
        "Needle",
        "Still Air",
    ]
    # ... or, when the list holds none of the album, in the place of the list's last
    others = [at["Thread"], at["Cloud Ledger"], at["Needle"]]
    assert titles(in_album_order(others, catalogue, drift, salt)) == [
        "Harbour Fog",
        "Thread",
        "Cloud Ledger",
    ]
    # ... and moved up when the list holds it already
    held = [at["Thread"], at["Harbour Fog"]]
    assert in_album_order(held, catalogue, drift, salt) == held[::-1]
    # Drift Chart after another album's track: no sign of the album played through, the
    # model's picks stay (the one after the track playing first)
    picked = ["Night Ferry", "Thread", "Cloud Ledger", "Salt Light"]
    assert titles(in_album_order(chosen, catalogue, drift, at["Thread"]))[:4] == picked
    # played through, but the rules refuse the next track
    assert titles(in_album_order(chosen, catalogue, drift, salt, lambda n, o: False))[:4] == (
        picked
    )


def test_without_numbers_the_lists_are_the_ones_before(library):
    """Random scores, with and without the numbers: the same albums in the same places;
    with numbers each album's tracks ascend (nothing played: nothing to continue)."""
    catalogue, _ = library
    bare = dataclasses.replace(
        catalogue, track_no=np.zeros(len(catalogue), np.int32), disc_no=np.zeros(0, np.int32)
    )
    assert not bare.numbered
    rng = np.random.default_rng(7)
    settings = RerankSettings(exclude_last=0, artist_cap=0)
    for _ in range(50):
        scores = rng.normal(size=len(catalogue))
        numbered = Reranker(catalogue, settings).rerank(scores, 6)
        plain = Reranker(bare, settings).rerank(scores, 6)
        assert plain == Reranker(bare, settings)._pick(np.argsort(-scores), 6, DialRules(None, 0))
        assert catalogue.album[numbered].tolist() == catalogue.album[plain].tolist()
        for album in set(catalogue.album[numbered].tolist()):
            keys = [
                (max(1, catalogue.disc_no[i]), catalogue.track_no[i])
                for i in numbered
                if catalogue.album[i] == album and catalogue.track_no[i]
            ]
            assert keys == sorted(keys)


def _history(db, catalogue, days: list[list[int]]) -> None:
    """One session a day of these items, a minute apart, each listened to."""
    for s, items in enumerate(days):
        for k, item in enumerate(items):
            log_play(
                db,
                int(catalogue.track_ids[item]),
                started_at=T0 + s * 86_400_000 + k * 60_000,
                ms_played=1000,
                duration_ms=1000,
                reason="completed",
            )


@pytest.mark.parametrize("cached", [False, True])
def test_an_album_played_through_goes_on_in_order(db, library, cached):
    """Low Tide Hours played through today: after Salt Light and Drift Chart the list
    offers Harbour Fog (never played: not the model's pick) first of that album, in the
    place of one the model picked, saying why."""
    catalogue, at = library
    album = [at[t] for t in ("Salt Light", "Drift Chart", "Night Ferry", "Blue Ropes")]
    rng = np.random.default_rng(3)
    days = [[*rng.permutation(album).tolist(), at["Cloud Ledger"]] for _ in range(12)]
    days.append([at["Salt Light"], at["Drift Chart"]])  # today, in the album's order
    _history(db, catalogue, days)
    assert len(load_plays(db, catalogue)) == 62
    now = T0 + 12 * 86_400_000 + 90_000
    found = suggestions(db, 5, now_ms=now, cached=cached).items
    ours = [s for s in found if s.title in {"Harbour Fog", "Blue Ropes", "Night Ferry"}]
    assert ours[0].title == "Harbour Fog", [s.title for s in found]
    assert ours[0].reason == "next on Low Tide Hours, after Glass Harbour – Drift Chart"


def test_tracks_picked_from_an_album_keep_the_models_pick(db, library, segue):
    """After Drift Chart alone (a session of one, `--after`) nothing says the album is
    played through: the album's tracks the model picked stay, in the album's order."""
    catalogue, at = library
    album = [at[t] for t in ("Salt Light", "Drift Chart", "Blue Ropes", "Night Ferry")]
    rng = np.random.default_rng(3)
    others = [at[t] for t in ("Cloud Ledger", "Rain Index", "Still Air", "Thread", "Needle")]
    days = [rng.permutation(album).tolist() for _ in range(12)]
    _history(db, catalogue, [*days, others * 2])  # the album is not among the last plays
    drift = catalogue.paths[at["Drift Chart"]].decode()
    result = segue("--json", "recommend", "--after", drift, "-n", "3")
    assert result.status == 0, result.err
    titles = [s["title"] for s in result.json["items"]]
    assert titles == ["Blue Ropes", "Night Ferry", "Salt Light"]  # not Harbour Fog


def test_a_skip_or_a_listen_is_all_the_same_to_the_order(library):
    """The album goes on after the last play, however it ended."""
    catalogue, at = library
    rr = Reranker(catalogue, RerankSettings(exclude_last=3))
    rr.fit(
        [
            Play(at["Salt Light"], T0, 1000, Outcome.LISTENED, 0),
            Play(at["Drift Chart"], T0 + 1000, 500, Outcome.SKIPPED, 0),
        ]
    )
    scores = np.zeros(len(catalogue))
    scores[at["Night Ferry"]] = 2.0
    scores[at["Harbour Fog"]] = 1.0
    assert rr.rerank(scores, 1) == [at["Harbour Fog"]]
    assert rr.rerank(scores, 1, follows=[at["Thread"]]) == [at["Night Ferry"]]


@pytest.mark.parametrize("cached", [False, True])
def test_after_a_queue_the_album_goes_on_from_its_last_queued_track(db, library, cached):
    """The radio and the dock's queue: with Salt Light playing and Drift Chart, Harbour
    Fog queued, the list comes after the queue: Blue Ropes (disc 2) is the album's next
    after Harbour Fog, and says so (not after Salt Light, the track playing)."""
    catalogue, at = library
    album = [at[t] for t in ("Salt Light", "Drift Chart", "Harbour Fog", "Night Ferry")]
    _history(db, catalogue, [[*album, at["Rain Index"]]] * 10)  # Blue Ropes: never
    paths = catalogue.paths
    salt, drift, fog = (paths[at[t]] for t in ("Salt Light", "Drift Chart", "Harbour Fog"))
    log_play(
        db, int(catalogue.track_ids[at["Salt Light"]]), started_at=T0 + 11 * 86_400_000, ms_played=0
    )
    now = T0 + 11 * 86_400_000 + 500
    found = suggestions(db, 5, playing=salt, queued=[drift, fog], now_ms=now, cached=cached)
    titles = [s.title for s in found.items]
    assert not {"Harbour Fog", "Salt Light", "Drift Chart"} & set(titles)
    assert "Blue Ropes" in titles, titles
    first = next(s for s in found.items if s.title == "Blue Ropes")
    assert first.reason == "next on Low Tide Hours, after Glass Harbour – Harbour Fog"


@pytest.mark.timeout(120)
def test_the_mpd_radio_plays_an_album_through_in_order(tmp_path, db, db_path):
    """A real mpd: Low Tide Hours' first track playing and its second queued (the album
    played through); the radio, keeping three ahead, queues the album's next tracks in
    order after them, and goes on in order when the player moves on."""
    need("mpd")
    need("mpc")
    music = tmp_path / "radio"
    titles = ["Salt Light", "Drift Chart", "Harbour Fog", "Blue Ropes", "Night Ferry"]
    others = ["Still Air", "Cloud Ledger", "Rain Index", "Thread", "Needle"]
    files = []
    for i, title in enumerate(titles + others):
        album, number = ("Low Tide Hours", i + 1) if i < 5 else ("Elsewhere", None)
        path = music / album / f"{title}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(30.0, 220.0 + 20 * i, 8000, channels=1), 8000, format="FLAC")
        tags = {"title": title, "artist": "Glass Harbour" if number else "Mira Solenne"}
        tags.update({"album": album, **({"track_no": number} if number else {})})
        tag_file(path, "flac", tags, None)
        files.append(path)
    scan(db, [os.fsencode(music)], workers=0)
    catalogue = load_catalogue(db)
    at = {t: i for i, t in enumerate(catalogue.titles)}
    # the album in its order most days, with other music between
    _history(db, catalogue, [[at[t] for t in [*titles, *others]] for _ in range(8)])
    server = Mpd(tmp_path, music).start()
    listen = segue_process(
        db_path, "-v", "listen", "--host", f"mpd:127.0.0.1:{server.port}", "--music-dir", str(music)
    )
    try:
        wait_for(lambda: listen.poll() is None, 10)
        time.sleep(1.0)  # the listener connects
        for path in files[:2]:
            server.mpc("add", os.path.relpath(path, music))
        server.mpc("play")
        client = mpd.MPDClient()
        client.timeout = 5
        client.connect("127.0.0.1", server.port)
        wait_for(lambda: len(client.playlistinfo()) >= 4, 20)  # three ahead of the first
        first = [song["title"] for song in client.playlistinfo()]
        server.mpc("next")  # Drift Chart: one more is queued
        wait_for(lambda: len(client.playlistinfo()) >= 5, 20)
        queue = [song["title"] for song in client.playlistinfo()]
        client.disconnect()
    finally:
        listen.send_signal(signal.SIGTERM)
        _, err = listen.communicate(timeout=30)
        server.kill()
    assert first == titles[:4], (first, err)
    assert queue == titles, (queue, err)
