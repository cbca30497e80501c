"""Real, tiny audio files of every format, tagged with mutagen: the scanner tests' inputs.

``write_audio(path, fmt, tags=..., cover=...)`` encodes a sine tone (soundfile for WAV, AIFF,
FLAC, Ogg Vorbis, Opus and MP3; PyAV, whose wheels bundle FFmpeg's encoders, for M4A (AAC and
ALAC), WMA and WavPack: no system ffmpeg) and tags it the way real taggers do for that
format. Tests may import mutagen here to *write* tags; only ``player_plugin.library.tags``
reads them. Any test can reuse these helpers.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import mutagen.apev2
import mutagen.asf
import mutagen.flac
import mutagen.id3 as id3
import mutagen.mp4
import mutagen.oggopus
import mutagen.oggvorbis
import mutagen.wave
import numpy as np
import pytest
import soundfile as sf

# format name -> file extension. "mp3" is ID3v2.4; "mp3-v23" ID3v2.3; "mp3-v1" ID3v1 only.
EXTENSIONS: dict[str, str] = {
    "mp3": ".mp3",
    "mp3-v23": ".mp3",
    "mp3-v1": ".mp3",
    "flac": ".flac",
    "ogg": ".ogg",
    "opus": ".opus",
    "wav": ".wav",
    "aiff": ".aiff",
    "m4a": ".m4a",
    "alac": ".m4a",
    "wma": ".wma",
    "wv": ".wv",
}
FORMATS = tuple(EXTENSIONS)
# What the scanner should report as the track's format for each fixture format.
SCANNED_FORMAT = {
    "mp3": "mp3",
    "mp3-v23": "mp3",
    "mp3-v1": "mp3",
    "flac": "flac",
    "ogg": "ogg",
    "opus": "opus",
    "wav": "wav",
    "aiff": "aiff",
    "m4a": "m4a",
    "alac": "m4a",
    "wma": "wma",
    "wv": "wv",
}
# Formats whose tags hold every normalised field (ID3v1 has only a few).
FULL_TAG_FORMATS = tuple(f for f in FORMATS if f != "mp3-v1")

FULL_TAGS: dict[str, Any] = {
    "title": "Ünïcode Sóng — 日本語",
    "artist": "Björk feat. Someone",
    "artists": ["Björk", "Someone"],
    "album": "Homogénic",
    "album_artist": "Björk",
    "genres": ["Electronic", "Trip-Hop"],
    "date": "1997-09-22",
    "track_no": 3,
    "track_total": 10,
    "disc_no": 1,
    "disc_total": 2,
    "composer": "Mark Bell",
    "bpm": 120,
    "isrc": "GBAAA9700001",
    "mb_recording_id": "11111111-2222-3333-4444-555555555555",
    "mb_artist_id": "87c5dedd-371d-4a53-9f7f-80522fb7f3cb",
    "mb_release_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "replaygain_track_gain": -6.5,
    "replaygain_album_gain": -7.25,
}


def png_bytes(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small valid PNG image (for embedded cover art)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


COVER = png_bytes()


def tone(seconds: float, freq: float, rate: int, channels: int = 2) -> np.ndarray:
    """A quiet sine tone, float32, shape (frames, channels)."""
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


def _soundfile(path: Path, fmt: str, data: np.ndarray, rate: int) -> None:
    kinds = {
        "wav": ("WAV", "PCM_16"),
        "aiff": ("AIFF", "PCM_16"),
        "flac": ("FLAC", "PCM_16"),
        "ogg": ("OGG", "VORBIS"),
        "opus": ("OGG", "OPUS"),
        "mp3": ("MP3", "MPEG_LAYER_III"),
    }
    container, subtype = kinds[fmt]
    with sf.SoundFile(
        str(path), "w", samplerate=rate, channels=data.shape[1], format=container, subtype=subtype
    ) as out:
        # libsndfile's Ogg encoder fails on very large single writes: write in blocks.
        for start in range(0, len(data), 8192):
            out.write(data[start : start + 8192])


# fixture format -> (PyAV codec, container format, bit rate or None)
PYAV_CODECS: dict[str, tuple[str, str, int | None]] = {
    "m4a": ("aac", "ipod", 64_000),
    "alac": ("alac", "ipod", None),
    "wma": ("wmav2", "asf", 64_000),
    "wv": ("wavpack", "wv", None),
}


def encode_pyav(path: str | Path, fmt: str, data: np.ndarray, rate: int) -> None:
    """Encode float *data* (frames, channels) as *fmt* (a key of :data:`PYAV_CODECS`) with
    PyAV; the encoder converts the 16-bit frames to its own sample format."""
    codec, container, bit_rate = PYAV_CODECS[fmt]
    layout = "stereo" if data.shape[1] == 2 else "mono"
    pcm = (np.clip(data, -1, 1) * 32767).astype("<i2")
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        for start in range(0, len(pcm), 4096):
            block = np.ascontiguousarray(pcm[start : start + 4096]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate = rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def encode(path: Path, fmt: str, *, seconds: float = 1.0, freq: float = 440.0) -> None:
    """Write an untagged file of *fmt* at *path*."""
    base = "mp3" if fmt.startswith("mp3") else fmt
    rate = 48000 if base == "opus" else 44100
    data = tone(seconds, freq, rate)
    if base in ("m4a", "alac", "wma", "wv"):
        encode_pyav(path, base, data, rate)
    else:
        _soundfile(path, base, data, rate)


def write_audio(
    path: str | Path,
    fmt: str,
    *,
    seconds: float = 1.0,
    freq: float = 440.0,
    tags: Mapping[str, Any] | None = None,
    cover: bytes | None = None,
) -> Path:
    """Encode a tone as *fmt* (see :data:`FORMATS`) at *path*, then tag it.

    The extension is added when *path* has none. *tags* uses the normalised field names of
    :data:`FULL_TAGS`; *cover* is embedded as the front cover (PNG bytes).
    """
    if fmt not in EXTENSIONS:
        raise ValueError(f"unknown fixture format {fmt!r}")
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(EXTENSIONS[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    encode(path, fmt, seconds=seconds, freq=freq)
    if tags or cover:
        tag_file(path, fmt, dict(tags or {}), cover)
    return path


# --- tagging, one writer per tag family ---------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [_text(v) for v in value] if isinstance(value, list | tuple) else [_text(value)]


def _numbering(tags: Mapping[str, Any], no: str, total: str) -> str | None:
    if tags.get(no) is None:
        return None
    return f"{tags[no]}/{tags[total]}" if tags.get(total) is not None else str(tags[no])


def _gain(value: Any) -> str:
    return f"{float(value):+.2f} dB"


def tag_file(path: Path, fmt: str, tags: dict[str, Any], cover: bytes | None) -> None:
    """Write *tags* and *cover* into the already encoded file at *path*."""
    if fmt == "mp3-v1":
        _tag_id3v1(path, tags)
    elif fmt in ("mp3", "mp3-v23"):
        tagger = id3.ID3()
        _fill_id3(tagger, tags, cover)
        tagger.save(str(path), v2_version=3 if fmt == "mp3-v23" else 4, v23_sep="; ")
    elif fmt in ("wav", "aiff"):
        audio = mutagen.File(str(path))
        audio.add_tags()
        _fill_id3(audio.tags, tags, cover)
        audio.save()
    elif fmt in ("flac", "ogg", "opus"):
        cls = {
            "flac": mutagen.flac.FLAC,
            "ogg": mutagen.oggvorbis.OggVorbis,
            "opus": mutagen.oggopus.OggOpus,
        }[fmt]
        audio = cls(str(path))
        if audio.tags is None:
            audio.add_tags()
        _fill_vorbis(audio, tags, cover, flac=fmt == "flac")
        audio.save()
    elif fmt in ("m4a", "alac"):
        audio = mutagen.mp4.MP4(str(path))
        if audio.tags is None:
            audio.add_tags()
        _fill_mp4(audio.tags, tags, cover)
        audio.save()
    elif fmt == "wma":
        audio = mutagen.asf.ASF(str(path))
        _fill_asf(audio.tags, tags, cover)
        audio.save()
    elif fmt == "wv":
        ape = mutagen.apev2.APEv2()
        _fill_ape(ape, tags, cover)
        ape.save(str(path))
    else:  # pragma: no cover - guarded by write_audio
        raise ValueError(fmt)


def _tag_id3v1(path: Path, tags: Mapping[str, Any]) -> None:
    def field(key: str, size: int) -> bytes:
        raw = _text(tags.get(key, "")).encode("latin-1", "replace")[:size]
        return raw.ljust(size, b"\x00")

    year = str(tags.get("date", ""))[:4].encode("ascii").ljust(4, b"\x00")
    track = int(tags.get("track_no") or 0)
    block = (
        b"TAG"
        + field("title", 30)
        + field("artist", 30)
        + field("album", 30)
        + year
        + b"\x00" * 28
        + b"\x00"
        + bytes([track])
        + bytes([17])  # genre 17: Rock
    )
    with open(path, "ab") as out:
        out.write(block)


def _fill_id3(tagger: id3.ID3, tags: Mapping[str, Any], cover: bytes | None) -> None:
    simple = {
        "title": id3.TIT2,
        "album": id3.TALB,
        "album_artist": id3.TPE2,
        "composer": id3.TCOM,
        "date": id3.TDRC,
        "bpm": id3.TBPM,
        "isrc": id3.TSRC,
    }
    for key, frame in simple.items():
        if tags.get(key) is not None:
            tagger.add(frame(encoding=3, text=[_text(tags[key])]))
    if tags.get("artist") is not None:
        tagger.add(id3.TPE1(encoding=3, text=_list(tags["artist"])))
    if tags.get("artists"):
        tagger.add(id3.TXXX(encoding=3, desc="ARTISTS", text=_list(tags["artists"])))
    if tags.get("genres"):
        tagger.add(id3.TCON(encoding=3, text=_list(tags["genres"])))
    if (track := _numbering(tags, "track_no", "track_total")) is not None:
        tagger.add(id3.TRCK(encoding=3, text=[track]))
    if (disc := _numbering(tags, "disc_no", "disc_total")) is not None:
        tagger.add(id3.TPOS(encoding=3, text=[disc]))
    if tags.get("mb_recording_id"):
        tagger.add(
            id3.UFID(owner="http://musicbrainz.org", data=tags["mb_recording_id"].encode("ascii"))
        )
    for key, desc in (
        ("mb_artist_id", "MusicBrainz Artist Id"),
        ("mb_release_id", "MusicBrainz Album Id"),
    ):
        if tags.get(key):
            tagger.add(id3.TXXX(encoding=3, desc=desc, text=[tags[key]]))
    for key, desc in (
        ("replaygain_track_gain", "REPLAYGAIN_TRACK_GAIN"),
        ("replaygain_album_gain", "replaygain_album_gain"),
    ):
        if tags.get(key) is not None:
            tagger.add(id3.TXXX(encoding=3, desc=desc, text=[_gain(tags[key])]))
    if cover:
        tagger.add(id3.APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=cover))


VORBIS_KEYS = {
    "title": "title",
    "album": "album",
    "album_artist": "albumartist",
    "composer": "composer",
    "date": "date",
    "bpm": "bpm",
    "isrc": "isrc",
    "mb_recording_id": "musicbrainz_trackid",
    "mb_artist_id": "musicbrainz_artistid",
    "mb_release_id": "musicbrainz_albumid",
    "track_total": "tracktotal",
    "disc_total": "disctotal",
    "track_no": "tracknumber",
    "disc_no": "discnumber",
}


def _fill_vorbis(audio: Any, tags: Mapping[str, Any], cover: bytes | None, *, flac: bool) -> None:
    comments = audio.tags
    for key, name in VORBIS_KEYS.items():
        if tags.get(key) is not None:
            comments[name] = [_text(tags[key])]
    for key, name in (("artist", "artist"), ("artists", "artists"), ("genres", "genre")):
        if tags.get(key):
            comments[name] = _list(tags[key])
    for key in ("replaygain_track_gain", "replaygain_album_gain"):
        if tags.get(key) is not None:
            comments[key] = [_gain(tags[key])]
    if cover:
        picture = mutagen.flac.Picture()
        picture.type = 3
        picture.mime = "image/png"
        picture.desc = "Cover"
        picture.width = picture.height = 2
        picture.depth = 24
        picture.data = cover
        if flac:
            audio.add_picture(picture)
        else:
            comments["metadata_block_picture"] = [base64.b64encode(picture.write()).decode("ascii")]


def _fill_mp4(atoms: Any, tags: Mapping[str, Any], cover: bytes | None) -> None:
    simple = {
        "title": "©nam",
        "album": "©alb",
        "album_artist": "aART",
        "composer": "©wrt",
        "date": "©day",
    }
    for key, atom in simple.items():
        if tags.get(key) is not None:
            atoms[atom] = [_text(tags[key])]
    if tags.get("artist") is not None:
        atoms["©ART"] = _list(tags["artist"])
    if tags.get("genres"):
        atoms["©gen"] = _list(tags["genres"])
    if tags.get("track_no") is not None:
        atoms["trkn"] = [(int(tags["track_no"]), int(tags.get("track_total") or 0))]
    if tags.get("disc_no") is not None:
        atoms["disk"] = [(int(tags["disc_no"]), int(tags.get("disc_total") or 0))]
    if tags.get("bpm") is not None:
        atoms["tmpo"] = [int(tags["bpm"])]
    free = {
        "artists": "ARTISTS",
        "isrc": "ISRC",
        "mb_recording_id": "MusicBrainz Track Id",
        "mb_artist_id": "MusicBrainz Artist Id",
        "mb_release_id": "MusicBrainz Album Id",
    }
    for key, name in free.items():
        if tags.get(key):
            atoms[f"----:com.apple.iTunes:{name}"] = [
                mutagen.mp4.MP4FreeForm(v.encode("utf-8")) for v in _list(tags[key])
            ]
    for key in ("replaygain_track_gain", "replaygain_album_gain"):
        if tags.get(key) is not None:
            atoms[f"----:com.apple.iTunes:{key}"] = [
                mutagen.mp4.MP4FreeForm(_gain(tags[key]).encode("ascii"))
            ]
    if cover:
        atoms["covr"] = [mutagen.mp4.MP4Cover(cover, imageformat=mutagen.mp4.MP4Cover.FORMAT_PNG)]


def _fill_asf(attrs: Any, tags: Mapping[str, Any], cover: bytes | None) -> None:
    simple = {
        "title": "Title",
        "album": "WM/AlbumTitle",
        "album_artist": "WM/AlbumArtist",
        "composer": "WM/Composer",
        "date": "WM/Year",
        "bpm": "WM/BeatsPerMinute",
        "isrc": "WM/ISRC",
        "mb_recording_id": "MusicBrainz/Track Id",
        "mb_artist_id": "MusicBrainz/Artist Id",
        "mb_release_id": "MusicBrainz/Album Id",
        "track_no": "WM/TrackNumber",
    }
    for key, name in simple.items():
        if tags.get(key) is not None:
            attrs[name] = [_text(tags[key])]
    if tags.get("artist") is not None:
        attrs["Author"] = _list(tags["artist"])
    if tags.get("artists"):
        attrs["WM/ARTISTS"] = _list(tags["artists"])
    if tags.get("genres"):
        attrs["WM/Genre"] = _list(tags["genres"])
    if (disc := _numbering(tags, "disc_no", "disc_total")) is not None:
        attrs["WM/PartOfSet"] = [disc]
    if tags.get("track_total") is not None:
        attrs["TotalTracks"] = [_text(tags["track_total"])]
    for key in ("replaygain_track_gain", "replaygain_album_gain"):
        if tags.get(key) is not None:
            attrs[key] = [_gain(tags[key])]
    if cover:
        mime = "image/png".encode("utf-16-le") + b"\x00\x00"
        desc = "Cover".encode("utf-16-le") + b"\x00\x00"
        blob = struct.pack("<bi", 3, len(cover)) + mime + desc + cover
        attrs["WM/Picture"] = [mutagen.asf.ASFByteArrayAttribute(blob)]


def _fill_ape(ape: mutagen.apev2.APEv2, tags: Mapping[str, Any], cover: bytes | None) -> None:
    simple = {
        "title": "Title",
        "album": "Album",
        "album_artist": "Album Artist",
        "composer": "Composer",
        "date": "Year",
        "bpm": "BPM",
        "isrc": "ISRC",
        "mb_recording_id": "MUSICBRAINZ_TRACKID",
        "mb_artist_id": "MUSICBRAINZ_ARTISTID",
        "mb_release_id": "MUSICBRAINZ_ALBUMID",
    }
    for key, name in simple.items():
        if tags.get(key) is not None:
            ape[name] = _text(tags[key])
    for key, name in (("artist", "Artist"), ("artists", "Artists"), ("genres", "Genre")):
        if tags.get(key):
            ape[name] = _list(tags[key])
    if (track := _numbering(tags, "track_no", "track_total")) is not None:
        ape["Track"] = track
    if (disc := _numbering(tags, "disc_no", "disc_total")) is not None:
        ape["Disc"] = disc
    for key in ("replaygain_track_gain", "replaygain_album_gain"):
        if tags.get(key) is not None:
            ape[key.upper()] = _gain(tags[key])
    if cover:
        ape["Cover Art (Front)"] = mutagen.apev2.APEValue(
            b"cover.png\x00" + cover, mutagen.apev2.BINARY
        )


# --- shared pytest fixture and fault injection ----------------------------------------------


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of every format, written once per session (never change them: copy first).

    Keys: each format (tagged with :data:`FULL_TAGS` and :data:`COVER`), and
    ``"<format>-bare"`` (no tags at all).
    """
    folder = tmp_path_factory.mktemp("audio")
    files: dict[str, Path] = {}
    for fmt in FORMATS:
        tags = FULL_TAGS if fmt != "mp3-v1" else {**FULL_TAGS, "title": "Plain Title"}
        files[fmt] = write_audio(folder / f"tagged-{fmt}", fmt, tags=tags, cover=COVER)
        if fmt != "mp3-v1":
            files[f"{fmt}-bare"] = write_audio(folder / f"bare-{fmt}", fmt, freq=330.0)
    return files


class FailingFile(io.BytesIO):
    """A file object that raises OSError after *budget* reads and seeks (as mutagen's own
    tests inject faults), to prove a failing disk becomes a clean error."""

    def __init__(self, data: bytes, budget: int) -> None:
        super().__init__(data)
        self.budget = budget
        self.calls = 0

    def _spend(self) -> None:
        self.calls += 1
        if self.calls > self.budget:
            raise OSError(5, "Input/output error (injected)")

    def read(self, size: int | None = -1) -> bytes:
        self._spend()
        return super().read(size)

    def readinto(self, buffer) -> int:
        self._spend()
        return super().readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._spend()
        return super().seek(offset, whence)
