"""A radio written down: N tracks walked from the model, saved as M3U8, XSPF or JSPF.

:func:`walk` asks the serving recommender (the active model, else the best baseline, as the
dock) for one track at a time and feeds each pick back as the session's next listened play,
so the list flows like a listening session; exclusions and variety are the dock's.
:func:`write` saves it: M3U8 (paths), XSPF (``location`` file URLs and the MusicBrainz
recording as ``identifier``; the schema's required elements: ``playlist@version``, the
namespace, ``trackList``) or JSPF (XSPF's JSON form, as ListenBrainz writes it).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

import sqlite_utils

from player_plugin.app.never import Index, Never
from player_plugin.app.settings import Settings

# The walk needs app.suggest's steps one at a time (observe a pick, answer again); these
# helpers carry its exclusion rules, so the playlist never differs from the dock.
from player_plugin.app.suggest import _answer, build_recommender, rules
from player_plugin.domain.clock import now_ms
from player_plugin.domain.errors import SegueError
from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import SESSION_GAP_MS, Play
from player_plugin.recommend.rerank import Reranker
from player_plugin.store.catalogue import load_catalogue
from player_plugin.store.serving import serving_plays

FORMATS = ("m3u8", "xspf", "jspf")
XSPF_NS = "http://xspf.org/ns/0/"
DEFAULT_MS = 210_000  # a track of unknown length, for the walk's clock


class PlaylistError(SegueError):
    """No playlist can be made (an empty library, a start track not in it)."""


@dataclass(frozen=True, slots=True)
class Entry:
    track_id: int
    path: bytes
    artist: str
    title: str
    album: str
    duration_ms: int | None
    mbid: str | None
    reason: str


def walk(
    db: sqlite_utils.Database, n: int = 50, *, start: bytes | None = None, at_ms: int | None = None
) -> list[Entry]:
    """*n* tracks (fewer when the library runs out), each the best next pick after the
    previous ones; *start* (a library file) begins a new session from that track."""
    now = int(at_ms if at_ms is not None else now_ms())
    catalogue = load_catalogue(db)
    if len(catalogue) == 0:
        raise PlaylistError("the library is empty: scan a music folder first (segue scan)")
    index = {bytes(p): i for i, p in enumerate(catalogue.paths or [])}
    if start is not None and bytes(start) not in index:
        raise PlaylistError("not in the library", bytes(start))
    plays = serving_plays(db, catalogue, now_ms=now).plays
    settings = Settings.load(db)
    rec, model_id = build_recommender(db, plays, catalogue, None, anchor=start is not None)
    reranker = Reranker(catalogue, rules(settings)).fit(plays)
    items = Index(catalogue)
    durations = catalogue.duration_ms
    last = plays[-1] if plays else None
    clock = max(now, last.started_at + 1) if last else now
    session = last.session if last else 0
    if start is not None or (last and clock - last.started_at > SESSION_GAP_MS):
        session = (last.session + 1) if last else 0
        clock = max(clock, last.started_at + SESSION_GAP_MS + 1) if last else clock
    picked: list[bytes] = [bytes(start)] if start is not None else []

    def listen(item: int) -> None:
        nonlocal clock
        length = int(durations[item]) if durations is not None and durations[item] else DEFAULT_MS
        play = Play(item, clock, length, Outcome.LISTENED, session)
        rec.observe(play)
        reranker.observe(play)
        clock += length

    if start is not None:
        listen(index[bytes(start)])
    chosen: list[int] = []
    reasons: dict[int, str] = {}
    cold = not plays and start is None
    for _ in range(max(0, n)):
        never = Never(settings, None, picked, (), clock)
        hidden = never.items(db, items)
        # the head of the dock's list (its length: an album's tracks in its order)
        found = _answer(
            rec, model_id, reranker, settings.suggestions, now=clock, cold=cold, hidden=hidden
        ).items[:1]
        if not found:
            break
        chosen.append(found[0].track_id)
        reasons[found[0].track_id] = found[0].reason
        picked.append(bytes(found[0].path))
        listen(index[bytes(found[0].path)])
    return _entries(db, chosen, reasons)


def _entries(db: sqlite_utils.Database, ids: list[int], reasons: dict[int, str]) -> list[Entry]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = {
        r["id"]: r
        for r in db.query(
            "SELECT id, path, artist, title, album, duration_ms, mb_recording_id FROM tracks "
            f"WHERE id IN ({marks})",
            ids,
        )
    }
    return [
        Entry(
            i,
            bytes(rows[i]["path"]),
            rows[i]["artist"] or "",
            rows[i]["title"] or "",
            rows[i]["album"] or "",
            rows[i]["duration_ms"],
            rows[i]["mb_recording_id"],
            reasons.get(i, ""),
        )
        for i in ids
        if i in rows
    ]


def file_url(path: bytes) -> str:
    """A ``file://`` URL for *path*'s bytes (percent-encoded, so any name survives)."""
    return "file://" + quote_from_bytes(os.path.abspath(path), safe="/")


def m3u8(entries: list[Entry]) -> bytes:
    """Extended M3U in UTF-8; a path that is not UTF-8 is written as its bytes."""
    lines = [b"#EXTM3U", b"#PLAYLIST:Segue radio"]
    for e in entries:
        seconds = round(e.duration_ms / 1000) if e.duration_ms else -1
        label = f"{e.artist} - {e.title}" if e.artist else e.title
        lines.append(f"#EXTINF:{seconds},{label}".encode())
        lines.append(e.path)
    return b"\n".join(lines) + b"\n"


def _mb(mbid: str | None) -> str | None:
    return f"https://musicbrainz.org/recording/{mbid}" if mbid else None


def xspf(entries: list[Entry], title: str = "Segue radio") -> bytes:
    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", version="1")
    ET.SubElement(root, f"{{{XSPF_NS}}}title").text = title
    ET.SubElement(root, f"{{{XSPF_NS}}}creator").text = "Segue"
    tracks = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for e in entries:
        track = ET.SubElement(tracks, f"{{{XSPF_NS}}}track")
        ET.SubElement(track, f"{{{XSPF_NS}}}location").text = file_url(e.path)
        if e.mbid:
            ET.SubElement(track, f"{{{XSPF_NS}}}identifier").text = _mb(e.mbid)
        for tag, value in (("title", e.title), ("creator", e.artist), ("album", e.album)):
            if value:
                ET.SubElement(track, f"{{{XSPF_NS}}}{tag}").text = value
        if e.duration_ms:
            ET.SubElement(track, f"{{{XSPF_NS}}}duration").text = str(int(e.duration_ms))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def jspf(entries: list[Entry], title: str = "Segue radio") -> bytes:
    tracks = []
    for e in entries:
        track: dict = {"location": [file_url(e.path)]}
        if e.mbid:
            track["identifier"] = [_mb(e.mbid)]
        track.update(
            {k: v for k, v in (("title", e.title), ("creator", e.artist), ("album", e.album)) if v}
        )
        if e.duration_ms:
            track["duration"] = int(e.duration_ms)
        tracks.append(track)
    doc = {"playlist": {"title": title, "creator": "Segue", "track": tracks}}
    return json.dumps(doc, ensure_ascii=False, indent=1).encode() + b"\n"


def render(entries: list[Entry], fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise PlaylistError(f"unknown playlist format {fmt!r} (one of {', '.join(FORMATS)})")
    return {"m3u8": m3u8, "xspf": xspf, "jspf": jspf}[fmt](entries)


def format_for(path: str | os.PathLike, fmt: str | None) -> str:
    """The format asked for, else the one the file name says (M3U8 by default)."""
    if fmt:
        return fmt
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    return {"m3u": "m3u8", "xspf": "xspf", "jspf": "jspf", "json": "jspf"}.get(suffix, "m3u8")


def write(entries: list[Entry], path: str | os.PathLike, fmt: str) -> None:
    """Write the playlist whole, then move it into place."""
    data = render(entries, fmt)
    target = os.fspath(path)
    partial = f"{target}.partial"
    with open(partial, "wb") as handle:
        handle.write(data)
    os.replace(partial, target)
