"""Reading history files: detect the format from the content, then parse to records.

``read_history(paths)`` yields :class:`HistoryPlay` for each play and :class:`Malformed`
for each row that cannot be read; a file that is not a history at all raises
:class:`HistoryFormatError` with one clear line. Rows that are not music (Spotify podcast
episodes, audiobooks) are neither: they are counted in ``ReadStats.not_music``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from player_plugin.library.history import formats_json, formats_text
from player_plugin.library.history.common import (
    HistoryFormatError,
    ReadStats,
    SeguePlay,
    parse_time,
)
from player_plugin.library.history.records import HistoryPlay, Malformed

__all__ = [
    "FORMATS",
    "HistoryFormatError",
    "HistoryPlay",
    "Malformed",
    "ReadStats",
    "SeguePlay",
    "detect_format",
    "parse_time",
    "read_file",
    "read_history",
]

Reader = Callable[[Path, ReadStats], Iterator[HistoryPlay | Malformed]]

FORMATS: dict[str, Reader] = {
    "listenbrainz": formats_json.read_listenbrainz,
    "lastfm-csv": formats_text.read_lastfm_csv,
    "spotify-extended": formats_json.read_spotify_extended,
    "spotify-basic": formats_json.read_spotify_basic,
    "scrobbler-log": formats_text.read_scrobbler_log,
    "lastfm-1k": formats_text.read_lastfm_1k,
    "mssd": formats_text.read_mssd,
}

_SNIFF_BYTES = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
ZIP_MEMBER_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".log", ".txt")
ZIP_MAX_BYTES = 2 * 1024**3  # unpacked: refuse archives that would unpack to more

log = logging.getLogger(__name__)


def _has(text: str, *keys: str) -> bool:
    return all(re.search(rf'"{re.escape(key)}"\s*:', text) for key in keys)


def detect_format(path: str | os.PathLike) -> str:
    """Which of :data:`FORMATS` the file holds, judged from its content (not its name)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise HistoryFormatError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    if head.startswith(ZIP_MAGIC):
        for _, fmt in _zip_members(path):
            return fmt
        raise HistoryFormatError(f"{path.name}: no listening history inside this archive")
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text:
        raise HistoryFormatError(f"{path.name}: the file is empty")
    if text[0] in "[{":
        if _has(text, "listened_at") or _has(text, "track_metadata"):
            return "listenbrainz"
        if _has(text, "ts", "ms_played") or _has(text, "master_metadata_track_name"):
            return "spotify-extended"
        if _has(text, "endTime", "msPlayed"):
            return "spotify-basic"
        raise HistoryFormatError(
            f"{path.name}: JSON, but not a ListenBrainz or Spotify history I know"
        )
    if text.startswith("#AUDIOSCROBBLER/"):
        return "scrobbler-log"
    first_line = text.splitlines()[0]
    if "\t" in first_line:
        fields = first_line.split("\t")
        if len(fields) == 6 and (
            fields[0].strip().lower() in ("user", "userid", "user_id") or _is_time(fields[1])
        ):
            return "lastfm-1k"
    try:
        rows = list(csv.reader(io.StringIO("\n".join(text.splitlines()[:2]))))
    except csv.Error:
        rows = []
    if rows:
        names = {re.sub(r"[\s\-]+", "_", h.strip().lower()) for h in rows[0]}
        if names >= formats_text.MSSD_COLUMNS:
            return "mssd"
        if formats_text.lastfm_layout(rows[0]) is not None or formats_text.headerless_lastfm(
            rows[0]
        ):
            return "lastfm-csv"
        # other delimiters (";" or tab) with a Last.fm-style header
        for delimiter in (";", "\t"):
            if formats_text.lastfm_layout(first_line.split(delimiter)) is not None:
                return "lastfm-csv"
    raise HistoryFormatError(
        f"{path.name}: not a listening history I know (expected ListenBrainz, Last.fm CSV, "
        "Spotify streaming history or .scrobbler.log)"
    )


def history_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """*paths* with each folder replaced by the listening histories inside it, at any
    depth, in name order (an unpacked export, e.g. Spotify's ``my_spotify_data``: the
    streaming histories are taken, its other files passed over, as in an archive).
    Raises :class:`HistoryFormatError` for a folder that holds none."""
    out: list[str] = []
    for given in paths:
        path = os.fsdecode(given)
        if not os.path.isdir(path):
            out.append(path)
            continue
        found = []
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                candidate = os.path.join(folder, name)
                if not name.lower().endswith((*ZIP_MEMBER_SUFFIXES, ".zip")):
                    continue
                try:
                    detect_format(candidate)
                except HistoryFormatError:
                    log.info("%s is not a listening history; passed over", candidate)
                    continue
                found.append(candidate)
        if not found:
            raise HistoryFormatError(
                f"{Path(path).name}: no listening history in this folder (expected "
                "ListenBrainz, Last.fm CSV, Spotify streaming history or .scrobbler.log files)"
            )
        out.extend(found)
    return out


def _is_time(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


def read_file(
    path: str | os.PathLike, fmt: str = "auto", stats: ReadStats | None = None
) -> Iterator[HistoryPlay | Malformed]:
    """The records of one file. Raises :class:`HistoryFormatError` when the file is not of
    the format (or, with ``auto``, of any known format)."""
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    if _is_zip(path):
        yield from _read_zip(path, fmt, stats)
        return
    if fmt == "auto":
        fmt = detect_format(path)
    elif fmt not in FORMATS:
        raise HistoryFormatError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    stats.formats[str(path)] = fmt
    yield from FORMATS[fmt](path, stats)


def read_history(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    fmt: str = "auto",
    stats: ReadStats | None = None,
) -> Iterator[HistoryPlay | Malformed]:
    """The records of every file in turn (see :func:`read_file`)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    stats = stats if stats is not None else ReadStats()
    for path in paths:
        yield from read_file(path, fmt, stats)


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ZIP_MAGIC
    except OSError:
        return False


def _zip_members(path: Path) -> Iterator[tuple[Path, str]]:
    """Unpack the history files of an export archive (Spotify's ``my_spotify_data.zip``,
    ListenBrainz's export) one at a time: ``(unpacked file, format)``; other members (the
    PDF, ``user.json``, feedback) are passed over."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise HistoryFormatError(f"{path.name}: not a readable ZIP archive ({exc})") from exc
    with archive, tempfile.TemporaryDirectory(prefix="segue-history-") as tmp:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and m.filename.lower().endswith(ZIP_MEMBER_SUFFIXES)
        ]
        if sum(m.file_size for m in members) > ZIP_MAX_BYTES:
            raise HistoryFormatError(f"{path.name}: the archive unpacks to too much to read")
        for number, member in enumerate(sorted(members, key=lambda m: m.filename)):
            folder = Path(tmp) / str(number)
            folder.mkdir()
            target = folder / Path(member.filename).name
            try:
                with archive.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise HistoryFormatError(
                    f"{path.name}: cannot unpack {member.filename} ({exc})"
                ) from exc
            try:
                fmt = detect_format(target)
            except HistoryFormatError:
                log.info("%s: %s is not a listening history; passed over", path.name, member)
                continue
            yield target, fmt
            target.unlink(missing_ok=True)


def _read_zip(path: Path, fmt: str, stats: ReadStats) -> Iterator[HistoryPlay | Malformed]:
    found = False
    for target, member_fmt in _zip_members(path):
        if fmt not in ("auto", member_fmt):
            continue
        found = True
        stats.formats[f"{path}:{target.name}"] = member_fmt
        yield from FORMATS[member_fmt](target, stats)
    if not found:
        raise HistoryFormatError(f"{path.name}: no listening history inside this archive")
