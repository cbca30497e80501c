"""`segue info` for people: m:ss, local dates, kbps, named features; raw values in --json;
and why a file the scan could not read was not added."""

from __future__ import annotations

import datetime as dt
import re

from audio_fixtures import FULL_TAGS, write_audio

from player_plugin.store.features import AnalysisResult, save_results


def test_info_text_speaks_peoples_units_and_json_stays_raw(segue, db, tmp_path):
    music = tmp_path / "music"
    path = write_audio(music / "song", "mp3", seconds=75.0, tags=FULL_TAGS)
    assert segue("scan", music).status == 0
    assert segue("analyze", "--workers", "0").status == 0
    track_id = db.execute("SELECT id FROM tracks").fetchone()[0]
    played_at = 1_764_540_000_000  # 2025-11-30 22:00 UTC
    db.execute(
        "INSERT INTO plays (track_id, started_at, ended_at, ms_played, duration_ms, reason) "
        "VALUES (?, ?, ?, 75000, 75000, 'completed')",
        [track_id, played_at, played_at + 75_000],
    )

    raw = segue("info", path, "--json").json
    assert 74_000 < raw["duration_ms"] < 76_000 and raw["last_played"] == played_at
    assert raw["bitrate"] > 1000  # bits per second, as stored
    features = raw["features"]
    for key in ("tempo_bpm", "loudness_lufs", "energy", "brightness", "key", "mfcc_mean"):
        assert key in features
    assert len(features["mfcc_mean"]) > 1

    out = segue("info", path).out
    assert "1:15" in out and str(raw["duration_ms"]) not in out
    assert f"{round(raw['bitrate'] / 1000)} kbps" in out
    local = dt.datetime.fromtimestamp(played_at / 1000).astimezone().strftime("%Y-%m-%d %H:%M")
    assert f"last played {local}" in out and str(played_at) not in out
    assert f"loudness {features['loudness_lufs']:.1f} LUFS" in out
    assert f"brightness {features['brightness']:,.0f} Hz" in out
    assert "mfcc" not in out.lower() and "[" not in out  # no arrays for people
    assert not re.search(r"\d\.\d{4,}", out)  # rounded
    assert FULL_TAGS["title"] in out and "played 1 time," in out


def test_info_says_why_a_recorded_file_is_unreadable(segue, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    write_audio(music / "good", "flac")
    bad = music / "broken.ogg"
    bad.write_bytes(b"OggS" + b"\0" * 20)
    segue("scan", music)
    result = segue("info", bad)
    assert result.status != 0 and result.err.count("\n") == 1
    assert "not in the library" not in result.err
    assert "could not be read when it was scanned" in result.err and str(bad) in result.err
    never = segue("info", music / "never.ogg")
    assert never.status != 0 and never.err.strip() == f"segue: no such file: {music / 'never.ogg'}"


def test_info_says_why_a_track_could_not_be_analysed(segue, db, tmp_path):
    music = tmp_path / "music"
    path = write_audio(music / "song", "flac", seconds=2.0)
    assert segue("scan", music).status == 0
    track_id, size, mtime_ns = db.execute("SELECT id, size, mtime_ns FROM tracks").fetchone()
    reason = "not an audio file Segue can read, or damaged"
    save_results(db, [AnalysisResult(track_id, size, mtime_ns, error=reason)])
    data = segue("info", path, "--json").json
    assert data["features"] is None and data["analysis_error"] == reason
    assert f"audio features: could not be analysed: {reason}" in segue("info", path).out
