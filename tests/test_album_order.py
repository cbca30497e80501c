"""Albums in their own order: tracks numbered by their tags (real FLAC files, scanned into
a real store) come in the album's order, the album playing continued from its next track;
a catalogue without numbers (a history's) gets the lists it got before."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import tag_file, tone
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
    # Drift Chart playing: its album's first place goes to Harbour Fog, then the album
    # goes on from there (Night Ferry), what came before the track playing last
    playing = at["Drift Chart"]
    assert titles(in_album_order(chosen, catalogue, playing))[:4] == [
        "Harbour Fog",
        "Thread",
        "Cloud Ledger",
        "Night Ferry",
    ]
    # the rules refuse the next track: no replacement, the order still the album's
    # (after the track playing first)
    refused = in_album_order([*chosen, at["Salt Light"]], catalogue, playing, lambda n, o: False)
    assert titles(refused)[0] == "Night Ferry" and titles(refused)[3] == "Salt Light"
    # an album the list does not hold is not brought in
    assert in_album_order([at["Thread"]], catalogue, playing) == [at["Thread"]]


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


def test_the_dock_continues_the_album_playing(db, library, segue):
    """Sessions that play Low Tide Hours in any order: after Drift Chart the default
    suggestions offer Harbour Fog first of that album, saying why."""
    catalogue, at = library
    ids = catalogue.track_ids
    rng = np.random.default_rng(3)
    album = [at[t] for t in ("Salt Light", "Drift Chart", "Blue Ropes", "Night Ferry")]
    for s in range(12):
        day = T0 + s * 86_400_000
        for k, item in enumerate(rng.permutation([*album, at["Cloud Ledger"]])):
            log_play(
                db,
                int(ids[item]),
                started_at=day + k * 60_000,
                ms_played=1000,
                duration_ms=1000,
                reason="completed",
            )
    assert len(load_plays(db, catalogue)) == 60
    drift = catalogue.paths[at["Drift Chart"]].decode()
    result = segue("--json", "recommend", "--after", drift, "-n", "5")
    assert result.status == 0, result.err
    found = result.json["items"]
    ours = [
        s for s in found if s["title"] in {catalogue.titles[i] for i in album} | {"Harbour Fog"}
    ]
    assert ours[0]["title"] == "Harbour Fog"
    assert ours[0]["reason"] == "next on Low Tide Hours, after Glass Harbour – Drift Chart"
    rest = [s["title"] for s in ours[1:]]
    order = ["Blue Ropes", "Night Ferry", "Salt Light"]
    assert rest == [t for t in order if t in rest] and len(rest) >= 2


def test_a_skip_or_a_listen_is_all_the_same_to_the_order(library):
    """The next track is the one after the last play, however it ended."""
    catalogue, at = library
    rr = Reranker(catalogue, RerankSettings(exclude_last=3))
    rr.fit([Play(at["Salt Light"], T0, 500, Outcome.SKIPPED, 0)])
    scores = np.zeros(len(catalogue))
    scores[at["Night Ferry"]] = 2.0
    scores[at["Drift Chart"]] = 1.0
    assert rr.rerank(scores, 1) == [at["Drift Chart"]]


@pytest.mark.parametrize("cached", [False, True])
def test_after_a_queue_the_album_goes_on_from_its_last_queued_track(db, library, cached):
    """The radio and the dock's queue: with Salt Light playing and Harbour Fog queued, the
    list comes after the queue — the album goes on with disc 2 (from Salt Light it would
    go on with Drift Chart)."""
    catalogue, at = library
    ids, paths = catalogue.track_ids, catalogue.paths
    album = [at[t] for t in ("Salt Light", "Drift Chart", "Harbour Fog", "Blue Ropes")]
    for s in range(10):
        for k, item in enumerate([*album, at["Night Ferry"], at["Rain Index"]]):
            log_play(
                db,
                int(ids[item]),
                started_at=T0 + s * 86_400_000 + k * 60_000,
                ms_played=1000,
                duration_ms=1000,
                reason="completed",
            )
    salt, fog = paths[at["Salt Light"]], paths[at["Harbour Fog"]]
    log_play(db, int(ids[at["Salt Light"]]), started_at=T0 + 11 * 86_400_000, ms_played=0)
    now = T0 + 11 * 86_400_000 + 500
    found = suggestions(db, 5, playing=salt, queued=[fog], now_ms=now, cached=cached).items
    titles = [s.title for s in found]
    assert "Harbour Fog" not in titles and "Salt Light" not in titles
    ours = [t for t in titles if t in {"Drift Chart", "Blue Ropes", "Night Ferry"}]
    assert ours == ["Blue Ropes", "Night Ferry", "Drift Chart"][: len(ours)], titles
    assert len(ours) >= 2
    first = next(s for s in found if s.title == "Blue Ropes")
    assert first.reason == "next on Low Tide Hours, after Glass Harbour – Harbour Fog"
