"""`segue playlist` writes a radio as M3U8, XSPF (the schema's required elements) and JSPF;
mpd and mpv load what it writes; bad input is one line."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from urllib.parse import unquote_to_bytes, urlsplit

import pytest
from player_support import Mpd, need, write_tracks
from ui_support import played, scanned

from player_plugin.app.playlist import Entry, jspf, m3u8, xspf

NS = "{http://xspf.org/ns/0/}"


@pytest.fixture
def library(tmp_path, db):
    music = tmp_path / "music"
    for i, path in enumerate(write_tracks(tmp_path / "tones", 12, seconds=2)):
        # names a URL needs no escapes for: MPD 0.23's XSPF reader does not decode them
        (music / f"artist_{i % 4}").mkdir(parents=True, exist_ok=True)
        os.replace(path, music / f"artist_{i % 4}" / f"t{i:02d}.flac")
    tracks = scanned(db, music)
    played(db, tracks, played_ids={t["id"] for t in tracks[:6]})
    db.execute(
        "UPDATE tracks SET mb_recording_id = ? WHERE id = ?",
        ["8f3471b5-7e6a-48da-86a9-c1c07a0f47ae", tracks[7]["id"]],
    )
    return tracks


def test_three_formats_of_one_radio(segue, tmp_path, library):
    start = library[0]["path"].decode()
    results = {
        fmt: segue(
            "--json", "playlist", "--from", start, "-n", "8", "-o", str(tmp_path / f"r.{fmt}")
        )
        for fmt in ("m3u8", "xspf", "jspf")
    }
    assert all(r.status == 0 and r.json["tracks"] == 8 for r in results.values())
    lines = (tmp_path / "r.m3u8").read_bytes().splitlines()
    paths = [line for line in lines if line and not line.startswith(b"#")]
    assert lines[0] == b"#EXTM3U" and len(paths) == len(set(paths)) == 8
    known = {bytes(t["path"]) for t in library}
    assert set(paths) <= known and bytes(library[0]["path"]) not in paths  # not the start
    assert sum(line.startswith(b"#EXTINF:2,Artist ") for line in lines) == 8

    root = ET.parse(tmp_path / "r.xspf").getroot()
    assert root.tag == f"{NS}playlist" and root.get("version") == "1"
    tracks = root.find(f"{NS}trackList").findall(f"{NS}track")  # required element
    locations = [unquote_to_bytes(urlsplit(t.find(f"{NS}location").text).path) for t in tracks]
    assert locations == paths  # same walk, same order (deterministic)

    doc = json.loads((tmp_path / "r.jspf").read_text())
    jtracks = doc["playlist"]["track"]
    assert [unquote_to_bytes(urlsplit(t["location"][0]).path) for t in jtracks] == paths
    ids = [t.get("identifier") for t in jtracks if t.get("identifier")]
    xml_ids = [
        t.find(f"{NS}identifier").text for t in tracks if t.find(f"{NS}identifier") is not None
    ]
    assert ids == [[i] for i in xml_ids]
    if bytes(library[7]["path"]) in paths:
        assert xml_ids == ["https://musicbrainz.org/recording/8f3471b5-7e6a-48da-86a9-c1c07a0f47ae"]


def test_mpd_and_mpv_load_them(segue, tmp_path, library):
    need("mpd")
    need("mpc")
    need("mpv")
    lists = tmp_path / "playlists"
    lists.mkdir()
    for fmt in ("m3u8", "xspf"):
        assert segue("playlist", "-n", "5", "-o", str(lists / f"radio.{fmt}")).status == 0
    (lists / "radio.m3u").write_bytes((lists / "radio.m3u8").read_bytes())
    music = tmp_path / "music"
    (music / "radio.xspf").write_bytes((lists / "radio.xspf").read_bytes())  # as a song file
    server = Mpd(tmp_path, music, extra=f'playlist_directory "{lists}"\n').start()
    try:
        for name in ("radio", "radio.xspf"):  # the stored playlist; the XSPF plugin
            server.mpc("clear")
            server.mpc("load", name)
            loaded = server.playlist()
            assert len(loaded) == 5 and all((music / f).exists() for f in loaded), (name, loaded)
    finally:
        server.kill()
    done = subprocess.run(
        [
            "mpv",
            "--no-config",
            "--ao=null",
            "--no-video",
            "--frames=0",
            "--length=0.1",
            f"--playlist={lists / 'radio.m3u8'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    played_paths = [
        line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("Playing: ")
    ]
    assert len(played_paths) == 5 and all(os.path.exists(p) for p in played_paths), done.stdout


def test_bad_input_is_one_line(segue, tmp_path, library):
    result = segue("playlist", "--from", str(tmp_path / "nope.flac"), "-o", str(tmp_path / "x"))
    assert result.status == 2 and "not in the library" in result.err
    result = segue("playlist", "-o", str(tmp_path / "missing" / "dir" / "x.m3u8"))
    assert result.status == 2 and len(result.err.strip().splitlines()) == 1
    assert segue("playlist", "-n", "0", "-o", str(tmp_path / "x")).status == 2


def test_locations_are_uris():
    entry = Entry(1, "/m/Björk/a b#1.flac".encode(), "Björk", "a b", "", None, None, "")
    location = ET.fromstring(xspf([entry])).find(f"{NS}trackList/{NS}track/{NS}location")
    assert location.text == "file:///m/Bj%C3%B6rk/a%20b%231.flac"
    assert json.loads(jspf([entry]))["playlist"]["track"][0]["location"] == [location.text]
    assert m3u8([entry]).splitlines()[-1] == entry.path
