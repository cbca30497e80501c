"""Parsers for the JSON histories: ListenBrainz, Spotify extended and basic streaming history.

Spotify writes ``ts``/``endTime`` when a play *ended*: the start is that minus
``ms_played``. ListenBrainz's ``listened_at`` is when the play started. Segue's own
export is ListenBrainz JSON with extra ``additional_info`` fields (``ms_played``,
``segue_reason``, ``segue_source``, ...) so that it imports back without loss.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from player_plugin.domain.listen import Reason, as_reason
from player_plugin.library.history.common import (
    HistoryFormatError,
    ReadStats,
    SeguePlay,
    capped_lines,
    int_or_none,
    open_text,
    parse_time,
    text_or_none,
)
from player_plugin.library.history.records import HistoryPlay, Malformed

Item = HistoryPlay | Malformed

SPOTIFY_END_REASONS: dict[str, Reason] = {
    "trackdone": "completed",
    "trackerror": "error",
    "fwdbtn": "skipped",
    "backbtn": "skipped",
    "endplay": "skipped",  # the user started something else
    "clickrow": "skipped",
}  # anything else (logout, remote, unexpected-exit, unknown): stopped


CHUNK_CHARS = 1 << 20
MAX_ITEM_CHARS = 16 << 20  # one play object larger than this is no play
WHOLE_DOCUMENT_MAX_BYTES = 48 << 20  # a single JSON object (not an array) read whole


def load_records(path: Path) -> Iterator[tuple[str, object]]:
    """The JSON objects of a file, streamed: one array, one object, or JSON lines.

    Yields ``(where, value)`` pairs; a JSON-lines line that does not parse is kept as a
    ``(where, None)`` pair so it is counted as malformed. A file that is neither is refused
    (possibly after some items were yielded: the caller reads every file before writing).
    Memory stays bounded by the largest item, not the file.
    """
    with open_text(path) as handle:
        first = _first_char(handle)
        if first is None:
            raise HistoryFormatError(f"{path.name}: the file is empty")
        if first == "[":
            yield from _array_items(path, handle)
            return
        if first != "{":
            raise HistoryFormatError(f"{path.name}: not valid JSON")
        lines = capped_lines(handle)
        head = next(lines, None) or ""
        try:
            value = json.loads("{" + head)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):  # one object written over many lines
            yield from _whole_document(path, handle, "{" + head)
            return
        rest = _json_lines(path, lines, first=2)
        following = next(rest, None)
        if following is None:
            yield from _document_items(path, value)
            return
        yield (f"{path.name} line 1", value)
        yield following
        yield from rest


def _first_char(handle: TextIO) -> str | None:
    while True:
        char = handle.read(1)
        if not char:
            return None
        if not char.isspace() and char != "\ufeff":
            return char


def _document_items(path: Path, data: object) -> Iterator[tuple[str, object]]:
    if isinstance(data, dict):
        # a lone object, or ListenBrainz API shape {"payload": {"listens": [...]}}
        payload = data.get("payload")
        listens = payload.get("listens") if isinstance(payload, dict) else None
        data = listens if isinstance(listens, list) else [data]
    if not isinstance(data, list):
        raise HistoryFormatError(f"{path.name}: expected a JSON array of plays")
    for i, value in enumerate(data):
        yield (f"{path.name} item {i + 1}", value)


def _whole_document(path: Path, handle: TextIO, start: str) -> Iterator[tuple[str, object]]:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if size > WHOLE_DOCUMENT_MAX_BYTES:
        raise HistoryFormatError(
            f"{path.name}: not valid JSON lines, and too large to read as one JSON object"
        )
    text = start + handle.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines(keepends=True)
        if len(lines) < 2:
            raise HistoryFormatError(
                f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})"
            ) from None
        yield from _json_lines(path, iter(lines))  # JSON lines with a bad first line
        return
    del text
    yield from _document_items(path, data)


def _array_items(path: Path, handle: TextIO) -> Iterator[tuple[str, object]]:
    """The items of a JSON array whose ``[`` was just read, one at a time."""
    decoder = json.JSONDecoder()
    buffer, pos, eof, index = "", 0, False, 0

    def fill() -> bool:
        nonlocal buffer, pos, eof
        chunk = handle.read(CHUNK_CHARS)
        if not chunk:
            eof = True
            return False
        buffer = buffer[pos:] + chunk
        pos = 0
        return True

    def skip_space() -> bool:
        nonlocal pos
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            if pos < len(buffer):
                return True
            if not fill():
                return False

    def bad(why: str) -> HistoryFormatError:
        return HistoryFormatError(f"{path.name}: not valid JSON ({why} in item {index + 1})")

    while True:
        if not skip_space():
            raise bad("the array never ends")
        if buffer[pos] == "]":
            return
        if index:
            if buffer[pos] != ",":
                raise bad("expected ','")
            pos += 1
            if not skip_space():
                raise bad("the array never ends")
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if eof or len(buffer) - pos > MAX_ITEM_CHARS:
                    raise bad(exc.msg) from None
                fill()
                continue
            if end == len(buffer) and not eof and fill():
                continue  # a number may go on in the next chunk
            break
        yield (f"{path.name} item {index + 1}", value)
        index += 1
        pos = end


def _json_lines(
    path: Path, lines: Iterator[str | None], first: int = 1
) -> Iterator[tuple[str, object]]:
    good = bad = 0
    for number, line in enumerate(lines, first):
        if line is not None and not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            if line is None:
                raise ValueError("line too long")
            value = json.loads(line)
        except ValueError:
            bad += 1
            yield (where, None)
            continue
        good += 1
        yield (where, value)
    if bad and not good and first == 1:
        raise HistoryFormatError(f"{path.name}: not valid JSON or JSON lines")


def read_listenbrainz(path: Path, stats: ReadStats) -> Iterator[Item]:
    """ListenBrainz export: ``listened_at`` + ``track_metadata`` per listen."""
    for where, item in load_records(path):
        if not isinstance(item, dict):
            yield Malformed(where, "not a JSON object")
            continue
        meta = item.get("track_metadata")
        if not isinstance(meta, dict):
            yield Malformed(where, "no track_metadata")
            continue
        info = meta.get("additional_info") or {}
        if not isinstance(info, dict):
            info = {}
        mapping = meta.get("mbid_mapping") or {}
        artist = text_or_none(meta.get("artist_name"))
        title = text_or_none(meta.get("track_name"))
        if not title or (artist is None and "artist_name" not in meta):
            yield Malformed(where, "no artist or track name")
            continue
        try:
            started = parse_time(item.get("listened_at"))
        except ValueError as exc:
            yield Malformed(where, f"listened_at: {exc}")
            continue
        duration = int_or_none(info.get("duration_ms"))
        seconds = int_or_none(info.get("duration"))
        if duration is None and seconds is not None:
            duration = seconds * 1000
        skipped = info.get("segue_skipped")
        shuffle = info.get("segue_shuffle")
        exact = int_or_none(info.get("segue_started_ms"))
        if exact is not None and abs(exact - started) < 1000:
            started = exact  # Segue's own export keeps the milliseconds
        yield SeguePlay(
            started_at=started,
            artist=artist or "",
            title=title,
            album=text_or_none(meta.get("release_name")),
            ms_played=int_or_none(info.get("ms_played")),
            duration_ms=duration,
            reason=_reason(info),
            skipped=skipped if isinstance(skipped, bool) else None,
            shuffle=shuffle if isinstance(shuffle, bool) else None,
            mbid=text_or_none(info.get("recording_mbid"))
            or (text_or_none(mapping.get("recording_mbid")) if isinstance(mapping, dict) else None),
            listener=text_or_none(info.get("segue_listener")),
            source=text_or_none(info.get("segue_source")),
            ended_at=int_or_none(info.get("segue_ended_ms")),
            path=_path(info),
        )


def _reason(info: dict) -> Reason | None:
    """A listen is a scrobble (completed), unless Segue's own export says how it ended
    (or that it never ended: a play cut short by a crash)."""
    if "segue_source" in info:
        return as_reason(info.get("segue_reason"))
    return "completed"


def _path(info: dict) -> bytes | None:
    """The file a Segue export says the play was of (bytes), if it says."""
    if isinstance(info.get("segue_path_b64"), str):
        try:
            return base64.b64decode(info["segue_path_b64"], validate=True)
        except ValueError:
            return None
    if isinstance(info.get("segue_path"), str):
        return os.fsencode(info["segue_path"])
    return None


def read_spotify_extended(path: Path, stats: ReadStats) -> Iterator[Item]:
    """Spotify Extended Streaming History. Rows without a track name that name a podcast
    episode or audiobook are counted as not music (``stats.not_music``), not malformed."""
    for where, item in load_records(path):
        if not isinstance(item, dict):
            yield Malformed(where, "not a JSON object")
            continue
        title = text_or_none(item.get("master_metadata_track_name"))
        if title is None:
            if any(
                item.get(key)
                for key in (
                    "episode_name",
                    "spotify_episode_uri",
                    "audiobook_title",
                    "audiobook_uri",
                    "audiobook_chapter_uri",
                )
            ):
                stats.not_music += 1
            else:
                yield Malformed(where, "no track or episode name")
            continue
        artist = text_or_none(item.get("master_metadata_album_artist_name"))
        ms_played = int_or_none(item.get("ms_played"))
        if artist is None or ms_played is None or ms_played < 0:
            yield Malformed(where, "no artist or ms_played")
            continue
        try:
            ended = parse_time(item.get("ts"))
        except ValueError as exc:
            yield Malformed(where, f"ts: {exc}")
            continue
        skipped = item.get("skipped")
        skipped = skipped if isinstance(skipped, bool) else None
        reason: Reason = SPOTIFY_END_REASONS.get(str(item.get("reason_end")), "stopped")
        if skipped and reason == "stopped":
            reason = "skipped"
        shuffle = item.get("shuffle")
        yield HistoryPlay(
            started_at=ended - ms_played,
            artist=artist,
            title=title,
            album=text_or_none(item.get("master_metadata_album_album_name")),
            ms_played=ms_played,
            reason=reason,
            skipped=skipped,
            shuffle=shuffle if isinstance(shuffle, bool) else None,
        )


def read_spotify_basic(path: Path, stats: ReadStats) -> Iterator[Item]:
    """Spotify's basic ``StreamingHistory*.json``: ``endTime`` (UTC, minutes), names, ms."""
    for where, item in load_records(path):
        if not isinstance(item, dict):
            yield Malformed(where, "not a JSON object")
            continue
        artist = text_or_none(item.get("artistName"))
        title = text_or_none(item.get("trackName"))
        ms_played = int_or_none(item.get("msPlayed"))
        if not artist or not title or ms_played is None or ms_played < 0:
            yield Malformed(where, "no artistName, trackName or msPlayed")
            continue
        try:
            ended = parse_time(item.get("endTime"))
        except ValueError as exc:
            yield Malformed(where, f"endTime: {exc}")
            continue
        yield HistoryPlay(
            started_at=ended - ms_played, artist=artist, title=title, ms_played=ms_played
        )
