"""Parsers for the text histories: Last.fm CSV dialects, ``.scrobbler.log``, Last.fm-1K, MSSD.

Files are streamed row by row (the research datasets run to millions of rows). A row that
cannot be read becomes a :class:`Malformed` record; a file whose layout is not the format
raises :class:`HistoryFormatError`.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from player_plugin.library.history.common import (
    HistoryFormatError,
    ReadStats,
    capped_lines,
    int_or_none,
    open_text,
    parse_time,
    text_or_none,
)
from player_plugin.library.history.records import HistoryPlay, Malformed

Item = HistoryPlay | Malformed

csv.field_size_limit(1 << 20)

# Header names, compared after lower-casing and turning spaces/dashes into "_".
ARTIST_COLUMNS = ("artist", "artist_name", "artistname", "track_artist", "creator")
TITLE_COLUMNS = ("track", "title", "track_name", "trackname", "song", "song_name", "name")
ALBUM_COLUMNS = ("album", "album_name", "albumname", "release", "release_name")
TIME_COLUMNS = (  # unix-seconds columns first: they carry the zone without doubt
    "uts",
    "timestamp",
    "unix_timestamp",
    "unix",
    "listened_at",
    "played_at",
    "scrobble_time",
    "ts",
    "utc_time",
    "datetime",
    "date_time",
    "date",
    "time",
    "played",
)
MBID_COLUMNS = ("track_mbid", "recording_mbid", "recording_id", "mbid")
DURATION_COLUMNS = ("duration_ms",)
MSSD_COLUMNS = {"session_id", "session_position", "track_id_clean", "not_skipped"}
MSSD_STEP_MS = 3 * 60 * 1000  # MSSD gives positions, not times: 3 minutes apart


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


@dataclass(frozen=True, slots=True)
class LastfmLayout:
    """Where a Last.fm CSV keeps each field (column indices; None: no such column)."""

    artist: int
    title: int
    album: int | None
    times: list[int]  # the time columns, tried in this order
    mbid: int | None = None
    duration: int | None = None

    @property
    def width(self) -> int:
        """How many fields a row needs."""
        columns = [self.artist, self.title, self.album, self.mbid, self.duration, *self.times]
        return max(c for c in columns if c is not None) + 1


def lastfm_layout(header: list[str]) -> LastfmLayout | None:
    """Column positions for a CSV header naming artist, track/title and a time; else None."""
    names = [_norm(h) for h in header]

    def first(candidates: tuple[str, ...]) -> int | None:
        for candidate in candidates:
            if candidate in names:
                return names.index(candidate)
        return None

    artist, title = first(ARTIST_COLUMNS), first(TITLE_COLUMNS)
    times = [names.index(c) for c in TIME_COLUMNS if c in names]
    if artist is None or title is None or not times:
        return None
    return LastfmLayout(
        artist=artist,
        title=title,
        album=first(ALBUM_COLUMNS),
        times=times,
        mbid=first(MBID_COLUMNS),
        duration=first(DURATION_COLUMNS),
    )


def headerless_lastfm(row: list[str]) -> bool:
    """The old header-less ``artist,album,track,date`` export."""
    if len(row) != 4 or not row[0].strip() or not row[2].strip():
        return False
    try:
        parse_time(row[3])
    except ValueError:
        return False
    return True


_TOO_LONG = "\ufffesegue: line too long\n"  # stands for a line longer than MAX_LINE_CHARS


def _open_text(path: Path) -> TextIO:
    return open_text(path)


def _csv_lines(handle: TextIO) -> Iterator[str]:
    """The lines for a CSV reader, an overlong one replaced by a marker row."""
    for line in capped_lines(handle):
        yield _TOO_LONG if line is None else line


def _csv_rows(reader: Iterator[Any]) -> Iterator[Any]:
    """The rows of a CSV reader; a row the reader cannot parse is given as its reason."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"unreadable CSV ({str(exc)[:60]})"
            continue
        first = next(iter(row.values()), None) if isinstance(row, dict) else row[:1] and row[0]
        if first == _TOO_LONG.rstrip("\n"):
            yield "line longer than 1 MiB"
            continue
        yield row


def read_lastfm_csv(path: Path, stats: ReadStats) -> Iterator[Item]:
    """Last.fm scrobbles as CSV: a header naming artist / track (or title) / album / a time
    column (unix seconds or date text), or the header-less ``artist,album,track,date``."""
    with _open_text(path) as handle:
        sample = handle.read(8192)
        handle.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(_csv_lines(handle), dialect)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise HistoryFormatError(f"{path.name}: unreadable CSV header ({exc})") from None
        if header is None:
            raise HistoryFormatError(f"{path.name}: the file is empty")
        layout = lastfm_layout(header)
        pending: list[list[str]] = []
        if layout is None:
            if not headerless_lastfm(header):
                raise HistoryFormatError(
                    f"{path.name}: not a Last.fm CSV (no artist, track and time columns)"
                )
            layout = LastfmLayout(artist=0, album=1, title=2, times=[3])
            pending.append(header)
            first_line = 1
        else:
            first_line = 2
        width = layout.width

        def rows() -> Iterator[tuple[int, list[str]]]:
            line = first_line
            for row in pending:
                yield line, row
                line += 1
            for row in _csv_rows(reader):
                yield reader.line_num, row

        for line, row in rows():
            where = f"{path.name} line {line}"
            if isinstance(row, str):
                yield Malformed(where, row)
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < width:
                yield Malformed(where, f"{len(row)} fields, expected at least {width}")
                continue
            artist = text_or_none(row[layout.artist])
            title = text_or_none(row[layout.title])
            if not artist or not title:
                yield Malformed(where, "no artist or track")
                continue
            started, problem = None, "no time"
            for column in layout.times:
                try:
                    started = parse_time(row[column])
                    break
                except ValueError as exc:
                    problem = str(exc)
            if started is None:
                yield Malformed(where, problem)
                continue
            album = row[layout.album] if layout.album is not None else None
            mbid = row[layout.mbid] if layout.mbid is not None else None
            duration = int_or_none(row[layout.duration]) if layout.duration is not None else None
            yield HistoryPlay(
                started_at=started,
                artist=artist,
                title=title,
                album=text_or_none(album),
                duration_ms=duration,
                reason="completed",  # a scrobble is a listen
                mbid=text_or_none(mbid),
            )


def local_wall_to_utc(seconds: int) -> int:
    """A timestamp written from a local wall clock as if it were UTC (``#TZ/UNKNOWN``),
    read in this computer's time zone; returned as true UTC seconds."""
    try:
        return int(time.mktime(time.gmtime(seconds)))
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"implausible time {seconds}") from None


def read_scrobbler_log(path: Path, stats: ReadStats) -> Iterator[Item]:
    """Rockbox / Audioscrobbler ``.scrobbler.log``: tab-separated, ``L`` listened or ``S``
    skipped; ``#TZ/UTC`` times are UTC, ``#TZ/UNKNOWN`` times are the device's local clock
    (read in this computer's time zone)."""
    with _open_text(path) as handle:
        lines = capped_lines(handle)
        first = next(lines, None) or ""
        if not first.startswith("#AUDIOSCROBBLER/"):
            raise HistoryFormatError(f"{path.name}: no #AUDIOSCROBBLER header")
        utc = True
        for number, raw in enumerate(lines, 2):
            if raw is None:
                yield Malformed(f"{path.name} line {number}", "line longer than 1 MiB")
                continue
            line = raw.rstrip("\r\n")
            if line.startswith("#"):
                if line.upper().startswith("#TZ/"):
                    utc = line[4:].strip().upper() == "UTC"
                continue
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            fields = line.split("\t")
            if len(fields) < 7:
                yield Malformed(where, f"{len(fields)} fields, expected 7 or 8")
                continue
            artist, album, title, _no, length, rating, stamp = fields[:7]
            if not artist.strip() or not title.strip():
                yield Malformed(where, "no artist or title")
                continue
            if rating not in ("L", "S"):
                yield Malformed(where, f"rating {rating[:5]!r} is neither L nor S")
                continue
            seconds = int_or_none(stamp)
            try:
                if seconds is None:
                    raise ValueError(f"unreadable time {stamp[:20]!r}")
                started = parse_time(seconds if utc else local_wall_to_utc(seconds))
            except ValueError as exc:
                yield Malformed(where, str(exc))
                continue
            length_s = int_or_none(length)
            duration = length_s * 1000 if length_s and length_s > 0 else None
            listened = rating == "L"
            yield HistoryPlay(
                started_at=started,
                artist=artist.strip(),
                title=title.strip(),
                album=text_or_none(album),
                ms_played=duration if listened else None,
                duration_ms=duration,
                reason="completed" if listened else "skipped",
                skipped=not listened,
                mbid=text_or_none(fields[7]) if len(fields) > 7 else None,
            )


def read_lastfm_1k(path: Path, stats: ReadStats) -> Iterator[Item]:
    """The Last.fm-1K research dataset (TSV: user, ISO time, artist mbid, artist, track
    mbid, track); a header row, if any, is skipped (the published one mislabels a column)."""
    with _open_text(path) as handle:
        for number, raw in enumerate(capped_lines(handle), 1):
            if raw is None:
                yield Malformed(f"{path.name} line {number}", "line longer than 1 MiB")
                continue
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if number == 1 and fields[0].strip().lower() in ("user", "userid", "user_id"):
                continue
            where = f"{path.name} line {number}"
            if len(fields) != 6:
                yield Malformed(where, f"{len(fields)} fields, expected 6")
                continue
            user, stamp, _artist_mbid, artist, track_mbid, title = fields
            if not artist.strip() or not title.strip():
                yield Malformed(where, "no artist or track")
                continue
            try:
                started = parse_time(stamp)
            except ValueError as exc:
                yield Malformed(where, str(exc))
                continue
            yield HistoryPlay(
                started_at=started,
                artist=artist.strip(),
                title=title.strip(),
                reason="completed",
                mbid=text_or_none(track_mbid),
                listener=text_or_none(user),
            )


def _mssd_day(text: str) -> datetime:
    for fmt in ("%Y-%m-%d", "%d-%m-%y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text[:20]!r}")


def _true(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1", "yes")


def read_mssd(path: Path, stats: ReadStats) -> Iterator[Item]:
    """Spotify's Music Streaming Sessions Dataset log. It has no artist or title: the
    track id is the title; the session id is the listener. It has no times within a day:
    a session starts at its first row's date and hour, and each position is 3 min later."""
    with _open_text(path) as handle:
        reader = csv.DictReader(_csv_lines(handle))
        try:
            names = reader.fieldnames or []
        except csv.Error:
            names = []
        if not {_norm(h) for h in names} >= MSSD_COLUMNS:
            raise HistoryFormatError(f"{path.name}: not an MSSD log (no session/track columns)")
        session, anchor = None, 0
        for row in _csv_rows(reader):
            where = f"{path.name} line {reader.line_num}"
            if isinstance(row, str):
                yield Malformed(where, row)
                continue
            if not isinstance(row, dict):
                continue
            track = text_or_none(row.get("track_id_clean"))
            sid = text_or_none(row.get("session_id"))
            position = int_or_none(row.get("session_position"))
            if not track or not sid or position is None:
                yield Malformed(where, "no session, position or track id")
                continue
            if sid != session:
                try:
                    day = _mssd_day(row.get("date") or "")
                    hour = int_or_none(row.get("hour_of_day")) or 0
                except ValueError as exc:
                    yield Malformed(where, str(exc))
                    continue
                session = sid
                anchor = int(day.timestamp() * 1000) + hour * 3_600_000
                anchor -= (position - 1) * MSSD_STEP_MS
            listened = _true(row.get("not_skipped"))
            yield HistoryPlay(
                started_at=anchor + (position - 1) * MSSD_STEP_MS,
                artist="",
                title=track,
                reason="completed" if listened else "skipped",
                skipped=not listened,
                shuffle=_true(row.get("hist_user_behavior_is_shuffle")),
                listener=sid,
            )
