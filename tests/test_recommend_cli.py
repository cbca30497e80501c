"""`segue recommend` and the service behind it, on a real store: catalogue, plays, feedback."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from player_plugin.app.settings import set_value
from player_plugin.app.suggest import suggestions
from player_plugin.domain.listen import Outcome
from player_plugin.store.catalogue import (
    HistoryTrack,
    insert_history_tracks,
    load_catalogue,
    load_plays,
)
from player_plugin.store.feedback import add_feedback, hidden_track_ids, loved_track_ids
from player_plugin.store.plays import log_play

MIN = 60_000
NOW = int(time.time() * 1000)


def _library(db, folder: Path, n_artists: int = 4, per_artist: int = 4) -> list[bytes]:
    tracks, paths = [], []
    for a in range(n_artists):
        for k in range(per_artist):
            path = str(folder / f"artist{a}" / f"{k:02d}.flac").encode()
            if a == 3 and k == 3:
                path = str(folder).encode() + b"/caf\xe9-not-utf8.flac"
            paths.append(path)
            tracks.append(
                HistoryTrack(
                    path,
                    f"artist {a}\x1fsong {a} {k}",
                    f"Artist {a}",
                    f"Song {a}.{k}",
                    f"Album {a}",
                    200_000,
                )
            )
    insert_history_tracks(db, tracks)
    return paths


def _ids(db) -> dict[bytes, int]:
    return {bytes(p): int(i) for i, p in db.execute("SELECT id, path FROM tracks")}


def _log_album_sessions(db, paths: list[bytes], days: int = 6) -> None:
    ids = _ids(db)
    start = NOW - days * 24 * 60 * MIN
    for day in range(days):
        t = start + day * 24 * 60 * MIN
        for k in range(4):  # artist 0's album, in order, every day
            log_play(db, ids[paths[k]], started_at=t + k * 4 * MIN, ms_played=200_000)


def test_catalogue_and_plays_read_back(db, tmp_path):
    paths = _library(db, tmp_path)
    _log_album_sessions(db, paths, days=2)
    ids = _ids(db)
    log_play(db, ids[paths[5]], started_at=NOW - 1000, ms_played=3_000)  # browsing
    cat = load_catalogue(db)
    assert len(cat) == 16 and cat.paths[0] == paths[0]
    assert cat.artist_names[cat.artist[0]] == "Artist 0" and cat.duration_ms[0] == 200_000
    assert len(set(cat.album.tolist())) == 4
    plays = load_plays(db, cat)
    assert len(plays) == 9
    assert [p.started_at for p in plays] == sorted(p.started_at for p in plays)
    assert plays[-1].outcome is Outcome.BROWSING and plays[0].outcome is Outcome.LISTENED
    assert plays[0].session != plays[4].session  # a day apart
    assert len(load_plays(db, cat, until_ms=plays[4].started_at)) == 4


def test_feedback_hides_and_expires(db, tmp_path):
    paths = _library(db, tmp_path)
    ids = _ids(db)
    add_feedback(db, ids[paths[0]], "never")
    add_feedback(db, ids[paths[1]], "not_now", until_ms=NOW + 10 * MIN)
    add_feedback(db, ids[paths[2]], "love")
    assert hidden_track_ids(db, NOW) == {ids[paths[0]], ids[paths[1]]}
    assert hidden_track_ids(db, NOW + 11 * MIN) == {ids[paths[0]]}
    assert loved_track_ids(db) == {ids[paths[2]]}
    with pytest.raises(ValueError):
        add_feedback(db, ids[paths[0]], "meh")


def test_recommend_json_follows_the_session(segue, db, tmp_path):
    paths = _library(db, tmp_path)
    _log_album_sessions(db, paths)
    ids = _ids(db)
    log_play(db, ids[paths[0]], started_at=NOW - 5 * MIN, ms_played=200_000)  # current session
    set_value(db, "exclude_last", 1)  # a tiny library: allow replays
    result = segue("recommend", "--json", "-n", "3")
    assert result.status == 0, result.err
    data = result.json
    assert set(data) == {"method", "model_id", "items"}
    assert data["method"] == "session-knn" and data["model_id"] is None
    items = data["items"]
    assert len(items) == 3
    assert set(items[0]) >= {"path", "artist", "title", "score", "reason"}
    assert items[0]["title"] == "Song 0.1"  # always came next
    assert all(item["reason"] for item in items)
    assert paths[0].decode() not in [item["path"] for item in items]  # the current track
    set_value(db, "exclude_last", 10)  # the default: none of the last 10 plays
    recent = {p.decode() for p in paths[:4]}
    assert not recent & {i["path"] for i in segue("recommend", "--json").json["items"]}


def test_recommend_after_path_and_text_output(segue, db, tmp_path):
    paths = _library(db, tmp_path)
    _log_album_sessions(db, paths)
    set_value(db, "exclude_last", 1)
    result = segue("recommend", "--after", paths[1].decode(), "--json", "-n", "2")
    assert result.status == 0, result.err
    assert result.json["items"][0]["title"] == "Song 0.2"
    text = segue("recommend", "--after", paths[1].decode(), "-n", "2")
    assert text.status == 0 and "Artist 0 – Song 0.2" in text.out and "(" in text.out
    # the dock's header, in music words: never the method's name
    assert text.out.splitlines()[0] == "2 suggestions from your listening patterns"
    assert result.json["method"] not in text.out


def test_hidden_and_settings_reach_the_suggestions(db, tmp_path):
    paths = _library(db, tmp_path)
    _log_album_sessions(db, paths)
    ids = _ids(db)
    add_feedback(db, ids[paths[2]], "never")
    out = suggestions(db, 16, after=paths[1])
    assert ids[paths[2]] not in [s.track_id for s in out.items]
    set_value(db, "variety", 1.0)
    fresh = suggestions(db, 5, after=paths[1])
    assert fresh.items and all(
        "new to you" in s.reason or "same artist" in s.reason for s in fresh.items
    )
    played = {ids[p] for p in paths[:4]}
    assert not played & {s.track_id for s in fresh.items}


def test_cold_start_is_a_sensible_answer(segue, db, tmp_path):
    paths = _library(db, tmp_path)
    result = segue("recommend", "--json", "-n", "5")
    assert result.status == 0, result.err
    data = result.json
    assert data["method"] == "random-unplayed" and len(data["items"]) == 5
    for item in data["items"]:  # says it is new, and the album it comes from
        album = "Album " + item["artist"].split()[-1]
        assert item["reason"] == f"not played yet: from {album}", item
    odd = [
        item
        for item in segue("recommend", "--json", "-n", "16").json["items"]
        if "path_b64" in item
    ]
    assert odd and base64.b64decode(odd[0]["path_b64"]) == paths[15]


def test_a_track_to_follow_before_any_play_brings_tracks_like_it(segue, db, tmp_path):
    # with nothing played, the listening patterns had nothing to go on: the list after a
    # track was random; now it is the track's album first, its artist's, said so
    paths = _library(db, tmp_path)
    result = segue("recommend", "--json", "--after", paths[5].decode(), "-n", "3")
    assert result.status == 0, result.err
    data = result.json
    assert data["method"] == "content"
    assert [item["artist"] for item in data["items"]] == ["Artist 1"] * 3
    assert all("Song 1.1" in item["reason"] for item in data["items"]), data["items"]
    header = segue("recommend", "--after", paths[5].decode(), "-n", "3").out.splitlines()[0]
    assert "to start with" in header and "patterns" not in header


def test_empty_library_and_errors(segue, db, tmp_path):
    empty = segue("recommend", "--json")
    assert empty.status == 0 and empty.json["items"] == []
    _library(db, tmp_path)
    unknown = segue("recommend", "--after", str(tmp_path / "elsewhere.flac"))
    assert unknown.status != 0 and "not in the library" in unknown.err
    assert unknown.err.count("\n") == 1
    assert segue("recommend", "-n", "0").status != 0


def test_the_active_model_serves_and_a_broken_one_falls_back(segue, db, tmp_path):
    pytest.importorskip("player_plugin.recommend.model")
    paths = _library(db, tmp_path)
    _log_album_sessions(db, paths, days=130)  # enough history for the trainer
    trained = segue("train", "--json")
    assert trained.status == 0, trained.err
    model_id = trained.json["model_id"]
    if not trained.json["promoted"]:
        assert segue("model", "activate", model_id).status == 0
    result = segue("recommend", "--json", "--after", paths[1].decode(), "-n", "3")
    assert result.status == 0, result.err
    assert result.json["method"] == "model" and result.json["model_id"] == model_id
    assert all(item["reason"] for item in result.json["items"])
    text = segue("recommend", "--after", paths[1].decode(), "-n", "3").out.splitlines()[0]
    assert text.startswith("3 suggestions from your model, trained on "), text
    from player_plugin.store.models import active_model, model_folder

    folder = model_folder(db, active_model(db))
    for onnx in Path(folder).glob("*.onnx"):
        onnx.write_bytes(b"not a model")
    fallback = segue("recommend", "--json", "-n", "3")
    assert fallback.status == 0, fallback.err
    assert fallback.json["method"] == "session-knn" and fallback.json["model_id"] is None
