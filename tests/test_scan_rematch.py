"""History imported before the music: a later scan matches the waiting plays."""

from __future__ import annotations

import json

from audio_fixtures import write_audio

from player_plugin.library.history.importer import import_files
from player_plugin.library.scanner import scan


def test_scan_matches_plays_imported_earlier(db, tmp_path):
    history = tmp_path / "listens.json"
    listens = [
        {
            "listened_at": 1_700_000_000 + 600 * i,
            "track_metadata": {"artist_name": "Nina Simone", "track_name": "Sinnerman"},
        }
        for i in range(3)
    ]
    history.write_text(json.dumps(listens))
    report = import_files(db, [history])
    assert report.unmatched == 3

    music = tmp_path / "music"
    music.mkdir()
    write_audio(music / "sinnerman", "flac", tags={"artist": "Nina Simone", "title": "Sinnerman"})
    summary = scan(db, [music])

    assert summary.added == 1 and summary.rematched == 3
    unmatched = db.execute("SELECT count(*) FROM plays WHERE track_id IS NULL").fetchone()[0]
    assert unmatched == 0
