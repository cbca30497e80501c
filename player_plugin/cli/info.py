"""`segue info PATH`: what Segue knows about one track (tags, plays, audio features).

``--json`` gives the raw values (milliseconds, epoch ms, bits per second, every descriptor);
the text is for people: m:ss, local dates, kbps, named and rounded features. A file the
scan could not read is not a track, but info says why it could not be read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import Any

from player_plugin.cli.common import UserError, add_command, emit, store
from player_plugin.domain.paths import display, from_user, json_fields
from player_plugin.domain.words import count
from player_plugin.store.features import analysis_error, track_features
from player_plugin.store.folders import library_folders, tracks_under
from player_plugin.store.plays import track_stats
from player_plugin.store.tracks import FILE_COLUMNS, scan_error, track_by_path

# What `segue info` shows of a track row: the file's fields, not Segue's bookkeeping.
INTERNAL_COLUMNS = ("path_text", "mtime_ns", "match_key", "signature")
FIELDS = ("id", *(c for c in FILE_COLUMNS if c not in INTERNAL_COLUMNS), "missing")


def describe(db, path: bytes) -> dict[str, Any]:
    """The ``segue info --json`` object for the track at *path* (UserError if unknown; for a
    file the scan recorded as unreadable, the error says why)."""
    track = track_by_path(db, path)
    if track is None:
        error = scan_error(db, path)
        if error is not None:
            raise UserError(
                f"{display(path)} could not be read when it was scanned ({local_time(error['at'])})"
                f": {error['reason']}"
            )
        raise UserError(_why_unknown(db, path))
    data: dict[str, Any] = json_fields(track["path"])
    data.update({key: track.get(key) for key in FIELDS})
    data.update(track_stats(db, track["id"]))
    data["features"] = track_features(db, track["id"])
    data["analysis_error"] = analysis_error(db, track["id"]) if data["features"] is None else None
    return data


def _why_unknown(db, path: bytes) -> str:
    """Why *path* is not a track of the library, as what to do about it."""
    shown = display(path)
    if os.path.isdir(path):
        held_n = tracks_under(db, path)
        held = f" (it holds {count(held_n, 'track')} of the library)" if held_n else ""
        return f"{shown} is a folder{held}: segue info describes one track's file"
    if not os.path.exists(path):
        return f"no such file: {shown}"
    folders = library_folders(db)
    if not any(path.startswith(f.rstrip(b"/") + b"/") for f in folders):
        return (
            f"not in the library: {shown} is outside your library folders "
            "(add its folder with segue folders add, then segue scan)"
        )
    return f"not in the library yet: {shown} (segue scan reads it, if it is audio)"


# --- people's units --------------------------------------------------------------------


def local_time(epoch_ms: int | None) -> str:
    """Epoch milliseconds as a local date and time, to the minute."""
    if epoch_ms is None:
        return "never"
    return dt.datetime.fromtimestamp(epoch_ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


def minutes(ms: float | None) -> str:
    """Milliseconds as m:ss (h:mm:ss from an hour)."""
    if ms is None:
        return "unknown length"
    total = round(ms / 1000)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _size(size: int | None) -> str | None:
    if size is None:
        return None
    amount = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1000
    return None


def _numbered(no: int | None, total: int | None) -> str | None:
    if no is None:
        return None
    return f"{no} of {total}" if total else str(no)


def _audio_line(d: dict[str, Any]) -> str:
    parts = [minutes(d.get("duration_ms"))]
    kind = d.get("format") or "?"
    if d.get("codec") and d["codec"] != kind:
        kind += f" ({d['codec']})"
    parts.append(kind.upper() if kind.isalnum() else kind)
    if d.get("bitrate"):
        parts.append(f"{round(d['bitrate'] / 1000)} kbps")
    if d.get("sample_rate"):
        channels = {1: "mono", 2: "stereo"}.get(d.get("channels") or 0, f"{d.get('channels')} ch")
        parts.append(f"{d['sample_rate'] / 1000:g} kHz {channels}".strip())
    if d.get("size") is not None:
        parts.append(_size(d["size"]) or "")
    return " · ".join(p for p in parts if p)


# name, label, format: each descriptor shown in text, in people's units
FEATURE_LINES: tuple[tuple[str, str, str], ...] = (
    ("tempo_bpm", "tempo", "{:.0f} BPM"),
    ("key", "key", "{}"),
    ("loudness_lufs", "loudness", "{:.1f} LUFS"),
    ("dynamic_range_db", "dynamic range", "{:.1f} dB"),
    ("energy", "energy", "{:.3f}"),
    ("brightness", "brightness", "{:,.0f} Hz"),
    ("beat_strength", "beat strength", "{:.0%}"),
    ("key_strength", "key strength", "{:.0%}"),
)


def _features_text(d: dict[str, Any]) -> list[str]:
    features = d.get("features")
    if not features:
        if d.get("analysis_error"):
            return [f"  audio features: could not be analysed: {d['analysis_error']}"]
        return ["  audio features: not analysed yet (run `segue analyze`)"]
    shown = []
    for name, label, fmt in FEATURE_LINES:
        value = features.get(name)
        shown.append(f"{label} {'none found' if value is None else fmt.format(value)}")
    lines = ["  sound: " + ", ".join(shown)]
    note = f"  analysed {local_time(features.get('analysed_at'))}"
    if features.get("excerpt_seconds") is not None:
        start = minutes(1000 * (features.get("excerpt_start_s") or 0.0))
        note += f" from {features['excerpt_seconds']:.0f} s of audio at {start}"
    return [*lines, note]


def text(d: dict[str, Any]) -> str:
    """The text of ``segue info``: the track in people's units."""
    lines = [d["path"]]
    title = d.get("title") or "(no title)"
    lines.append(f"  {title}" + (f" — {d['artist']}" if d.get("artist") else ""))
    facts = [
        ("album", d.get("album")),
        ("album artist", d.get("album_artist")),
        ("genres", ", ".join(d.get("genres") or [])),
        ("date", d.get("date") or d.get("year")),
        ("track", _numbered(d.get("track_no"), d.get("track_total"))),
        ("disc", _numbered(d.get("disc_no"), d.get("disc_total"))),
        ("composer", d.get("composer")),
        ("tagged tempo", d.get("bpm") and f"{d['bpm']} BPM"),
        ("ISRC", d.get("isrc")),
        ("MusicBrainz recording", d.get("mb_recording_id")),
    ]
    for label, value in facts:
        if value not in (None, "", []):
            lines.append(f"  {label}: {value}")
    lines.append("  " + _audio_line(d))
    gains = [
        f"{name} {d[key]:+.2f} dB"
        for name, key in (("track", "replaygain_track_gain"), ("album", "replaygain_album_gain"))
        if d.get(key) is not None
    ]
    if gains:
        lines.append("  ReplayGain: " + ", ".join(gains))
    lines.append("  cover art: " + ("embedded" if d.get("has_cover") else "none"))
    if d.get("missing"):
        lines.append("  the file is missing (its plays are kept)")
    plays = d.get("plays") or 0
    lines.append(
        f"  played {plays} time{'s' if plays != 1 else ''}, skipped {d.get('skips') or 0}"
        + (f", last played {local_time(d['last_played'])}" if d.get("last_played") else "")
    )
    return "\n".join(lines + _features_text(d))


def run(args: argparse.Namespace) -> int:
    db = store(args, create=False)
    data = describe(db, from_user(args.path))
    emit(args, data, text(data))
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(subparsers, common, "info", run)
    parser.add_argument("path", metavar="PATH", help="the track's file (b64:... for raw bytes)")
