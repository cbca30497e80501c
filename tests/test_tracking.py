"""What an external player reports, turned into plays: ms heard without seeks or pauses,
end reasons by the listen rule, repeats, ids that change mid-track, players with no length;
and the play log for tracks outside the library (matched by tags, or kept with them)."""

from __future__ import annotations

import pytest
from ui_support import scanned, write_library

from player_plugin.app.player_lock import PlayerLock, PlayerLocked
from player_plugin.app.playlog import PlayLog, TrackTags
from player_plugin.app.radio import Entry, plan
from player_plugin.app.tracking import PlayTracker, Snapshot
from player_plugin.library.history.matching import rematch_unmatched


class Script:
    """Feeds a tracker the looks a 1-second poll would take; records what it says."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.tracker = PlayTracker(
            lambda s: self.events.append(("start", s.key)),
            lambda s, ms, reason: self.events.append(("end", s.key, ms, reason)),
        )
        self.now = 0

    def play(self, key, seconds, *, start=0.0, length=60_000, status="playing", **kw):
        """Poll once a second while *key* plays *seconds* from *start*."""
        for tick in range(int(seconds) + 1):
            pos = int((start + tick) * 1000) if status == "playing" else int(start * 1000)
            self.tracker.update(Snapshot(key, status, pos, length, **kw), self.now)
            if tick < int(seconds):
                self.now += 1000

    def ends(self):
        return [e[1:] for e in self.events if e[0] == "end"]


def test_skip_seek_pause_stop():
    s = Script()
    s.play(b"a", 5)  # 5 s heard
    s.play(b"b", 3)
    s.tracker.seeked(40_000, s.now)  # jump: not heard
    s.play(b"b", 4, start=40)  # 3 + 4 s heard
    s.play(b"b", 5, start=44, status="paused")  # paused: nothing heard
    s.play(b"b", 2, start=44)
    s.tracker.update(Snapshot(b"b", "stopped", 0, 60_000), s.now)
    assert s.ends() == [(b"a", 5000, "skipped"), (b"b", 9000, "stopped")]


def test_played_to_the_end_then_repeated_is_two_plays():
    s = Script()
    s.play(b"a", 10, start=50)  # 50 -> 60 s of a 60 s track
    s.play(b"a", 3, start=0)  # it starts again (repeat)
    s.tracker.vanished(s.now)  # the player quits mid-track
    assert s.ends() == [(b"a", 10_000, "completed"), (b"a", 3000, "stopped")]
    assert [e[0] for e in s.events] == ["start", "end", "start", "end"]


def test_a_seek_seen_only_by_polling_counts_the_time_before_it():
    s = Script()
    s.play(b"a", 3)
    s.play(b"a", 2, start=30)  # no Seeked signal: the position jumped
    s.play(b"b", 1)
    assert s.ends()[0][0] == b"a" and abs(s.ends()[0][1] - 5000) <= 1000


def test_an_id_changing_mid_track_is_one_play_and_a_new_song_id_is_another():
    s = Script()
    s.play(b"a", 2)  # MPRIS: no instance; a changing trackid is not part of the key
    s.play(b"a", 2, start=2)
    assert s.events == [("start", b"a")]
    s.play(b"a", 2, start=4, instance="7")  # MPD: song ids tell two queue entries apart
    s.play(b"a", 2, start=0, instance="8")
    assert [e[0] for e in s.events] == ["start", "end", "start"]


def test_no_length_uses_the_listen_rule():
    s = Script()
    s.play(b"radio", 40, length=None)
    s.play(b"other", 3, length=None)
    s.play(b"third", 1, length=None)
    s.tracker.update(Snapshot(None, "stopped"), s.now)
    assert s.ends() == [
        (b"radio", 40_000, "completed"),
        (b"other", 3000, "skipped"),
        (b"third", 1000, "stopped"),
    ]


def test_the_radio_plan_trims_played_suggestions_and_refills():
    queue = [Entry(i, b"x", ours=i in (1, 3)) for i in range(5)]
    todo = plan(queue, current=3, ahead=3)
    assert todo.trim == [1] and todo.add == 2
    assert plan(queue, current=None).add == 0  # nothing plays: the radio waits


@pytest.fixture
def library(tmp_path, db):
    return scanned(db, write_library(tmp_path / "music", artists=2, per_artist=2)[0].parents[1])


def test_playlog_matches_by_path_then_tags_and_keeps_the_rest(db, library):
    log = PlayLog(db, clock=iter(range(10**12, 2 * 10**12, 1000)).__next__)
    track = library[0]
    by_path = log.started(bytes(track["path"]))
    stream = TrackTags(artist=track["artist"], title=track["title"])
    by_tags = log.started(b"https://example.org/x", tags=stream)
    unknown = log.started(b"spotify:track:1", tags=TrackTags(artist="Nobody", title="Nothing"))
    nothing = log.started(b"/not/a/library/file.flac")
    assert by_path.track_id == track["id"] and by_tags.track_id == track["id"]
    assert unknown.track_id is None and unknown.play_id is not None
    assert nothing.play_id is None and "Not in the library" in nothing.message
    for key in (bytes(track["path"]), b"https://example.org/x", b"spotify:track:1"):
        assert log.ended(key, 1234, "skipped") is not None
    rows = list(db.query("SELECT track_id, title, ms_played, reason FROM plays ORDER BY id"))
    assert [r["track_id"] for r in rows] == [track["id"], track["id"], None]
    assert rows[2]["title"] == "Nothing" and rows[2]["reason"] == "skipped"
    assert rematch_unmatched(db) == 0  # still nothing in the library by that name


def test_one_process_per_database_and_player(tmp_path):
    first = PlayerLock(tmp_path / "segue.db", "mpd:localhost:6600").acquire()
    with pytest.raises(PlayerLocked, match="already logging"):
        PlayerLock(tmp_path / "segue.db", "mpd:localhost:6600").acquire()
    other = PlayerLock(tmp_path / "segue.db", "mpris:mpv").acquire()  # another player: fine
    first.release()
    PlayerLock(tmp_path / "segue.db", "mpd:localhost:6600").acquire().release()
    other.release()


def test_a_track_first_seen_paused_is_a_play_once_it_plays():
    s = Script()
    s.play(b"a", 3, start=100, status="paused")  # a player restored paused: no play yet
    assert s.events == []
    s.play(b"a", 2, start=100)
    s.tracker.vanished(s.now)
    assert s.ends() == [(b"a", 2000, "stopped")]


def test_a_length_the_player_plays_past_is_ignored():
    s = Script()
    s.play(b"stream", 6, length=2000)  # a stream that claims 2 s
    s.tracker.update(Snapshot(b"stream", "stopped", 6000, 2000), s.now)
    assert s.ends() == [(b"stream", 6000, "stopped")]
    s = Script()
    for second in range(5):  # mpv's streams: the length grows with the position
        s.tracker.update(Snapshot(b"s", "playing", second * 1000, second * 1000 + 1000), s.now)
        s.now += 1000
    s.tracker.update(Snapshot(None, "stopped"), s.now)
    assert s.ends() == [(b"s", 5000, "stopped")]


def test_a_track_noticed_late_counts_from_its_start_but_joining_mid_track_does_not():
    s = Script()
    s.tracker.update(Snapshot(None, "stopped"), s.now)  # watching an idle player
    s.now += 6000
    s.play(b"a", 2, start=5)  # a busy machine looked 5 s after it began
    s.tracker.update(Snapshot(None, "stopped"), s.now)
    late = Script()
    late.play(b"b", 2, start=90)  # first look ever: joined at 1:30, only 2 s heard
    late.tracker.vanished(late.now)
    assert s.ends() == [(b"a", 7000, "stopped")]
    assert late.ends() == [(b"b", 2000, "stopped")]
