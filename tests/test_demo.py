"""`segue demo`: a synthesised library whose genres differ for real, tagged, scanned into a
database of its own with a labelled invented history; the user's store is never touched."""

from __future__ import annotations

import json
import statistics

import pytest

from player_plugin.app.demo import GENRES, HISTORY_NAME, build_demo, demo_home, is_built
from player_plugin.store.db import default_db_path, open_db


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    info = build_demo(folder, tracks_per_album=1, seconds=(4.0, 5.0))
    return folder, info


def test_demo_builds_a_tagged_library_and_a_labelled_history(demo):
    folder, info = demo
    assert is_built(folder)
    assert info["tracks"] == len(GENRES) * 2 == info["scanned"]
    assert info["matched"] == info["history_plays"] > 100
    history = json.loads((folder / HISTORY_NAME).read_text())
    assert all(
        "demo" in p["track_metadata"]["additional_info"]["submission_client"].lower()
        for p in history
    )
    db = open_db(folder / "segue.db")
    try:
        rows = list(db.query("SELECT artist, album, genres, title, duration_ms FROM tracks"))
        assert {json.loads(r["genres"])[0] for r in rows} == {g.name for g in GENRES}
        assert all(r["artist"] and r["album"] and r["title"] for r in rows)
        assert all(3500 <= r["duration_ms"] <= 5500 for r in rows)
        played = db.execute("SELECT count(DISTINCT track_id) FROM plays").fetchone()[0]
        assert played < len(rows)  # some tracks were never played: something to discover
        skipped = db.execute("SELECT count(*) FROM plays WHERE reason = 'skipped'").fetchone()[0]
        assert skipped > 0
    finally:
        db.close()
    assert (folder / "music" / "Jazz").is_dir()
    assert list((folder / "music").rglob("cover.png"))


def test_demo_genres_differ_in_measured_audio_features(demo):
    from player_plugin.library.analyze_job import analyse_library
    from player_plugin.store.features import track_features

    folder, _ = demo
    db = open_db(folder / "segue.db")
    try:
        ids = {
            genre: [
                r[0]
                for r in db.execute("SELECT id FROM tracks WHERE genres LIKE ?", [f"%{genre}%"])
            ]
            for genre in ("Ambient", "Techno")
        }
        analyse_library(db, track_ids=ids["Ambient"] + ids["Techno"], workers=0)
        feats = {g: [track_features(db, i) for i in v] for g, v in ids.items()}
    finally:
        db.close()
    loud = {g: statistics.mean(f["loudness_lufs"] for f in v) for g, v in feats.items()}
    bright = {g: statistics.mean(f["brightness"] for f in v) for g, v in feats.items()}
    assert loud["Techno"] > loud["Ambient"] + 6
    assert bright["Techno"] > bright["Ambient"]


def test_the_demo_never_touches_the_users_database(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUE_HOME", str(tmp_path / "home"))
    assert demo_home() == tmp_path / "home" / "demo"
    folder = demo_home()
    build_demo(folder, tracks_per_album=1, seconds=(2.0, 2.5))
    assert not default_db_path().exists()


def test_the_demo_refuses_a_folder_that_is_not_its_own(tmp_path):
    (tmp_path / "precious.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        build_demo(tmp_path, tracks_per_album=1, seconds=(2.0, 2.5))
    assert (tmp_path / "precious.txt").read_text() == "mine"


def test_segue_demo_no_open_reports_json(segue, tmp_path):
    folder = tmp_path / "d"
    result = segue("demo", "--no-open", "--folder", folder, "--tracks-per-album", "1", "--json")
    assert result.status == 0, result.err
    assert result.json["tracks"] == 12 and (folder / "segue.db").is_file()
    again = segue("demo", "--no-open", "--folder", folder, "--json")  # built: reused
    assert again.status == 0 and "tracks" not in again.json
