"""History parsers: every format from real-looking files, detection by content, bad rows
and bad files, and the shared real exports."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from player_plugin.library.history.readers import (
    FORMATS,
    HistoryFormatError,
    HistoryPlay,
    Malformed,
    ReadStats,
    detect_format,
    parse_time,
    read_history,
)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def plays_of(items) -> list[HistoryPlay]:
    return [i for i in items if isinstance(i, HistoryPlay)]


def bad_of(items) -> list[Malformed]:
    return [i for i in items if isinstance(i, Malformed)]


# -- sample files, shaped like the services write them ---------------------------------------


def listenbrainz_listen(at: str, artist: str, title: str, album=None, **info) -> dict:
    meta = {"artist_name": artist, "track_name": title, "additional_info": info}
    if album:
        meta["release_name"] = album
    return {
        "listened_at": ms(at) // 1000,
        "inserted_at": ms(at) // 1000 + 5,
        "user_name": "someone",
        "recording_msid": "2b5b1a4c-8f1e-4f0d-9f6c-0d7a2c1e1b11",
        "track_metadata": meta,
    }


def write_listenbrainz(path: Path, lines: bool = False) -> Path:
    listens = [
        listenbrainz_listen(
            "2024-03-01T20:00:00",
            "Björk",
            "Jóga",
            "Homogenic",
            recording_mbid="3ba4f0c1-0b4c-4a5c-9a64-8d6b3e7f9a10",
            duration_ms=305_000,
        ),
        listenbrainz_listen("2024-03-01T20:05:10", "Radiohead", "Airbag", "OK Computer"),
        {"listened_at": ms("2024-03-01T20:10:00") // 1000, "track_metadata": {"artist_name": "X"}},
    ]
    if lines:
        path.write_text("\n".join(json.dumps(x) for x in listens) + "\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(listens, indent=2), encoding="utf-8")
    return path


def spotify_row(end: str, played: int, artist, title, album, reason_end, skipped, **extra):
    row = {
        "ts": end + "Z",
        "platform": "linux",
        "ms_played": played,
        "conn_country": "DE",
        "master_metadata_track_name": title,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": "spotify:track:4uLU6hMCjMI75M1A2tKUQC" if title else None,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "clickrow",
        "reason_end": reason_end,
        "shuffle": False,
        "skipped": skipped,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": False,
    }
    row.update(extra)
    return row


def write_spotify_extended(path: Path) -> Path:
    rows = [
        spotify_row(
            "2024-02-10T18:04:00",
            240_000,
            "Massive Attack",
            "Teardrop",
            "Mezzanine",
            "trackdone",
            False,
        ),
        spotify_row("2024-02-10T18:04:20", 20_000, "Portishead", "Roads", "Dummy", "fwdbtn", True),
        spotify_row(
            "2024-02-10T19:00:00",
            1_800_000,
            None,
            None,
            None,
            "endplay",
            False,
            episode_name="Episode 12: Trip hop",
            episode_show_name="Some Podcast",
            spotify_episode_uri="spotify:episode:0Q86acNRm6V9GYx55SXKwf",
        ),
        spotify_row("not a time", 1000, "Portishead", "Sour Times", "Dummy", "trackdone", False),
    ]
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return path


def write_spotify_basic(path: Path) -> Path:
    rows = [
        {
            "endTime": "2019-02-10 14:23",
            "artistName": "Air",
            "trackName": "La femme d'argent",
            "msPlayed": 427_000,
        },
        {
            "endTime": "2019-02-10 14:24",
            "artistName": "Air",
            "trackName": "Sexy Boy",
            "msPlayed": 3_000,
        },
        {"endTime": "2019-02-10 14:30", "artistName": "Air", "msPlayed": 3_000},
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


LASTFM_UTS = (
    "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"
    '1612096440,"31 Jan 2021, 12:34",Radiohead,a74b1b7f-71a5-4011-9441-d0b5e4122711,'
    "OK Computer,,Airbag,\n"
    '1612096740,"31 Jan 2021, 12:39",Sigur Rós,,Ágætis byrjun,,Svefn-g-englar,'
    "8e2a3c5b-6d4f-4e8a-9b1c-2d3e4f5a6b7c\n"
    ',"garbage time",Nobody,,,,Nothing,\n'
)
LASTFM_HEADERLESS = (
    '"Radiohead","OK Computer","Airbag","31 Jan 2021 12:34"\n'
    '"Boards of Canada","Music Has the Right to Children","Roygbiv","31 Jan 2021 12:40"\n'
)
LASTFM_GENERIC = (
    ",artist,album,track,timestamp,datetime\n"
    "0,Peggy Gou,Starry Night,Starry Night - Edit,1559040211,2019-05-28 10:43:31\n"
    "1,Randy Newman,Dark Matter,Wandering Boy,,2019-05-28 10:40:29\n"
    "2,\u00a0,Nina's Back,I Loves You Porgy,1350410752,2012-10-16 18:05:52\n"
)
SCROBBLER_UTC = (
    "#AUDIOSCROBBLER/1.1\n#TZ/UTC\n#CLIENT/Rockbox sansaclipplus $Revision$\n"
    "Nick Drake\tPink Moon\tPink Moon\t1\t125\tL\t1700000000\t\n"
    "Nick Drake\tPink Moon\tPlace to Be\t2\t163\tS\t1700000130\t\n"
    "Nick Drake\tPink Moon\n"
)
SCROBBLER_LOCAL = (
    "#AUDIOSCROBBLER/1.1\n#TZ/UNKNOWN\n#CLIENT/Rockbox ipodvideo $Revision$\n"
    "Nick Drake\tBryter Layter\tNorthern Sky\t8\t227\tL\t1700000000\t"
    "0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e\n"
)
LASTFM_1K = (
    "user\ttimestamp\tartist_id\tartist\tartist_id\tsong\n"
    "user_000001\t2009-05-03T15:48:25Z\tba2f4f3b-0293-4bc8-bb94-2f73b5207343\tUnderworld\t"
    "dc394163-2b78-4b56-94e4-658597a29ef8\tBoy, Boy, Boy (Switch Remix)\n"
    "user_000002\t2009-05-03T15:37:56Z\t\tMinus 8\t\tElysian Fields\n"
    "user_000002\tbroken line\n"
)
MSSD = (
    "session_id,session_position,session_length,track_id_clean,skip_1,skip_2,skip_3,"
    "not_skipped,context_switch,no_pause_before_play,short_pause_before_play,"
    "long_pause_before_play,hist_user_behavior_n_seekfwd,hist_user_behavior_n_seekback,"
    "hist_user_behavior_is_shuffle,hour_of_day,date,premium,context_type,"
    "hist_user_behavior_reason_start,hist_user_behavior_reason_end\n"
    "0_aa,1,2,t_111,False,False,False,True,0,0,0,0,0,0,True,16,15-07-18,True,"
    "editorial_playlist,trackdone,trackdone\n"
    "0_aa,2,2,t_222,True,True,True,False,0,1,0,0,0,0,True,16,15-07-18,True,"
    "editorial_playlist,trackdone,fwdbtn\n"
    "0_bb,1,1,t_111,False,False,False,True,0,0,0,0,0,0,False,9,2018-07-16,True,"
    "user_collection,clickrow,trackdone\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, Path]:
    """One file per format, named so that the name gives nothing away."""
    return {
        "listenbrainz": write_listenbrainz(tmp_path / "a.json"),
        "spotify-extended": write_spotify_extended(tmp_path / "b.json"),
        "spotify-basic": write_spotify_basic(tmp_path / "c.json"),
        "lastfm-csv": write(tmp_path / "d.csv", LASTFM_UTS),
        "scrobbler-log": write(tmp_path / "e.log", SCROBBLER_UTC),
        "lastfm-1k": write(tmp_path / "f.tsv", LASTFM_1K),
        "mssd": write(tmp_path / "g.csv", MSSD),
    }


def test_every_format_is_detected_from_content(samples):
    assert set(samples) == set(FORMATS)
    for fmt, path in samples.items():
        assert detect_format(path) == fmt, path


def test_listenbrainz_array_and_json_lines(tmp_path):
    for lines in (False, True):
        items = list(read_history(write_listenbrainz(tmp_path / f"lb{lines}.json", lines)))
        plays, bad = plays_of(items), bad_of(items)
        assert len(plays) == 2 and len(bad) == 1
        joga = plays[0]
        assert (joga.artist, joga.title, joga.album) == ("Björk", "Jóga", "Homogenic")
        assert joga.mbid == "3ba4f0c1-0b4c-4a5c-9a64-8d6b3e7f9a10"
        assert joga.duration_ms == 305_000
        assert joga.started_at == ms("2024-03-01T20:00:00")
        assert joga.reason == "completed"
        assert "no artist or track name" in bad[0].why


def test_spotify_extended_start_is_end_minus_ms_played_and_podcasts_are_not_music(samples):
    stats = ReadStats()
    items = list(read_history(samples["spotify-extended"], stats=stats))
    plays, bad = plays_of(items), bad_of(items)
    assert stats.not_music == 1  # the podcast episode: neither a play nor malformed
    assert len(plays) == 2 and len(bad) == 1 and "ts" in bad[0].why
    teardrop, roads = plays
    assert teardrop.started_at == ms("2024-02-10T18:04:00") - 240_000
    assert (teardrop.reason, teardrop.skipped, teardrop.ms_played) == ("completed", False, 240_000)
    assert (roads.reason, roads.skipped, roads.ms_played) == ("skipped", True, 20_000)
    assert roads.shuffle is False


def test_spotify_basic(samples):
    items = list(read_history(samples["spotify-basic"]))
    plays = plays_of(items)
    assert [p.title for p in plays] == ["La femme d'argent", "Sexy Boy"]
    assert plays[0].started_at == ms("2019-02-10T14:23:00") - 427_000
    assert plays[1].ms_played == 3_000 and plays[1].reason is None
    assert len(bad_of(items)) == 1


def test_lastfm_uts_export(samples):
    items = list(read_history(samples["lastfm-csv"]))
    plays = plays_of(items)
    assert [(p.artist, p.title, p.album) for p in plays] == [
        ("Radiohead", "Airbag", "OK Computer"),
        ("Sigur Rós", "Svefn-g-englar", "Ágætis byrjun"),
    ]
    assert plays[0].started_at == 1612096440_000
    assert plays[1].mbid == "8e2a3c5b-6d4f-4e8a-9b1c-2d3e4f5a6b7c"
    assert all(p.reason == "completed" for p in plays)
    [bad] = bad_of(items)
    assert bad.where.endswith("line 4")


def test_lastfm_headerless_export(tmp_path):
    path = write(tmp_path / "old.csv", LASTFM_HEADERLESS)
    assert detect_format(path) == "lastfm-csv"
    plays = plays_of(read_history(path))
    assert [(p.artist, p.album, p.title) for p in plays][1] == (
        "Boards of Canada",
        "Music Has the Right to Children",
        "Roygbiv",
    )
    assert plays[0].started_at == ms("2021-01-31T12:34:00")


def test_lastfm_generic_header_falls_back_to_the_date_text(tmp_path):
    path = write(tmp_path / "scrobbles.csv", LASTFM_GENERIC)
    items = list(read_history(path))
    plays = plays_of(items)
    assert plays[0].started_at == 1559040211_000
    assert plays[1].started_at == ms("2019-05-28T10:40:29")  # empty unix column: datetime
    [bad] = bad_of(items)  # a no-break space is no artist
    assert "no artist" in bad.why


def test_lastfm_semicolon_and_title_column(tmp_path):
    path = write(
        tmp_path / "x.csv",
        "Artist;Title;Album;Date\nMoloko;Sing It Back;I Am Not a Doctor;2020-01-02T03:04:05Z\n",
    )
    [play] = plays_of(read_history(path))
    assert (play.artist, play.title, play.started_at) == (
        "Moloko",
        "Sing It Back",
        ms("2020-01-02T03:04:05"),
    )


def test_scrobbler_log_utc(samples):
    items = list(read_history(samples["scrobbler-log"]))
    listened, skipped = plays_of(items)
    assert listened.started_at == 1_700_000_000_000
    assert (listened.reason, listened.duration_ms, listened.ms_played) == (
        "completed",
        125_000,
        125_000,
    )
    assert (skipped.reason, skipped.skipped) == ("skipped", True)
    assert len(bad_of(items)) == 1


def test_scrobbler_log_unknown_zone_is_local_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        [play] = plays_of(read_history(write(tmp_path / ".scrobbler.log", SCROBBLER_LOCAL)))
    finally:
        monkeypatch.undo()
        time.tzset()
    # 1700000000 read as a Berlin wall clock (UTC+1 in November) is an hour earlier in UTC
    assert play.started_at == 1_700_000_000_000 - 3_600_000
    assert play.mbid == "0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e"


def test_lastfm_1k_and_mssd_carry_listeners(samples):
    items = list(read_history(samples["lastfm-1k"]))
    plays = plays_of(items)
    assert [p.listener for p in plays] == ["user_000001", "user_000002"]
    assert plays[0].mbid == "dc394163-2b78-4b56-94e4-658597a29ef8"
    assert plays[0].started_at == ms("2009-05-03T15:48:25")
    assert len(bad_of(items)) == 1

    mssd = plays_of(read_history(samples["mssd"]))
    assert [(p.listener, p.title, p.reason) for p in mssd] == [
        ("0_aa", "t_111", "completed"),
        ("0_aa", "t_222", "skipped"),
        ("0_bb", "t_111", "completed"),
    ]
    assert mssd[0].started_at == ms("2018-07-15T16:00:00")
    assert mssd[1].started_at - mssd[0].started_at == 180_000
    assert mssd[2].started_at == ms("2018-07-16T09:00:00")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ('[{"listened_at": 1700000000, "track_metadata": {"artist_na', "not valid JSON"),
        ('{"hello": "world"}', "not a ListenBrainz or Spotify"),
        ("just some notes\nnothing here\n", "not a listening history"),
        ("\x00\x01\x02binary", "not a listening history"),
    ],
)
def test_a_file_that_is_no_history_is_refused_in_one_line(tmp_path, content, message):
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(HistoryFormatError, match=message) as info:
        list(read_history(path))
    assert "\n" not in str(info.value)


def test_forcing_the_wrong_format_is_refused(samples):
    with pytest.raises(HistoryFormatError):
        list(read_history(samples["lastfm-csv"], fmt="scrobbler-log"))
    with pytest.raises(HistoryFormatError, match="unknown format"):
        list(read_history(samples["lastfm-csv"], fmt="itunes"))


def test_parse_time_forms():
    assert parse_time("1559040211") == 1559040211_000
    assert parse_time(1559040211) == 1559040211_000
    assert parse_time("1559040211000") == 1559040211_000
    assert parse_time("2019-05-28T10:43:31Z") == 1559040211_000
    assert parse_time("2019-05-28T12:43:31+02:00") == 1559040211_000
    assert parse_time("2019-05-28 10:43:31") == 1559040211_000
    assert parse_time("28 May 2019, 10:43") == 1559040180_000
    for bad in ("", "0", "yesterday", "9999999999999", None, True):
        with pytest.raises(ValueError):
            parse_time(bad)


@pytest.mark.realdata
def test_shared_lastfm_export_parses(shared_data):
    stats = ReadStats()
    items = list(read_history(shared_data / "lastfm-2007-2019" / "scrobbles.csv", stats=stats))
    assert len(items) == 42_752
    assert len(bad_of(items)) <= 5
    assert stats.formats and set(stats.formats.values()) == {"lastfm-csv"}


@pytest.mark.realdata
def test_shared_spotify_export_parses(shared_data):
    stats = ReadStats()
    files = sorted((shared_data / "spotify-extended-2023-2026").glob("*.json"))
    items = list(read_history(files, stats=stats))
    assert len(items) + stats.not_music == 31_778
    assert 0 < stats.not_music < 100
    assert not bad_of(items)
    plays = plays_of(items)
    assert sum(p.skipped for p in plays) > 10_000  # skips are kept
    assert all(p.ms_played is not None for p in plays)


def test_export_archives_are_read_member_by_member(tmp_path):
    """Spotify and ListenBrainz hand out ZIP files: histories inside are read, the rest
    (a PDF, user.json, feedback) passed over."""
    import zipfile

    spotify = write_spotify_extended(tmp_path / "Streaming_History_Audio_2024.json")
    listens = write_listenbrainz(tmp_path / "3.jsonl", lines=True)
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(spotify, "Spotify Extended Streaming History/Streaming_History_Audio_2024.json")
        out.writestr("Spotify Extended Streaming History/ReadMeFirst.pdf", b"%PDF-1.4 ...")
        out.write(listens, "listens/2024/3.jsonl")
        out.writestr("user.json", json.dumps({"user_id": 1, "username": "someone"}))
        out.writestr("feedback.jsonl", json.dumps({"recording_msid": "x", "score": 1}) + "\n")
    assert detect_format(archive) in ("spotify-extended", "listenbrainz")
    stats = ReadStats()
    items = list(read_history(archive, stats=stats))
    assert len(plays_of(items)) == 2 + 2 and stats.not_music == 1
    assert sorted(stats.formats.values()) == ["listenbrainz", "spotify-extended"]
    assert len(list(read_history(archive, fmt="listenbrainz"))) == 3

    empty = tmp_path / "photos.zip"
    with zipfile.ZipFile(empty, "w") as out:
        out.writestr("notes.txt", "nothing to see")
    with pytest.raises(HistoryFormatError, match="no listening history inside"):
        list(read_history(empty))
    broken = tmp_path / "broken.zip"
    broken.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(HistoryFormatError, match=r"broken\.zip"):
        list(read_history(broken))
