"""Reading tags and audio properties: the only module that imports mutagen.

Every mutagen call goes through :func:`_mutagen_call`, which turns whatever mutagen raises
on a bad file into a :class:`TagError` carrying the path and a reason (after beets/mediafile
``mutagen_call`` and quodlibet ``translate_errors``). :func:`read_tags` is strict;
:func:`try_read_tags` returns the error instead, so a scan can count failures and go on.
Values are normalised across tag families (ID3, Vorbis comments, MP4 atoms, ASF, APEv2) and
capped, so an absurd tag cannot flood the store. An MP3 whose ID3 tag is plain has its frames
read by :mod:`player_plugin.library.id3_frames` (mutagen's frame objects cost ten times as
much) and its stream by mutagen's ``MPEGInfo``: the same tags, or mutagen's way reads it.
"""

from __future__ import annotations

import base64
import codecs
import functools
import logging
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, TypeVar

import mutagen
import mutagen.aac
import mutagen.ac3
import mutagen.aiff
import mutagen.apev2
import mutagen.asf
import mutagen.dsdiff
import mutagen.dsf
import mutagen.flac
import mutagen.id3
import mutagen.monkeysaudio
import mutagen.mp3
import mutagen.mp4
import mutagen.musepack
import mutagen.oggflac
import mutagen.oggopus
import mutagen.oggspeex
import mutagen.oggvorbis
import mutagen.optimfrog
import mutagen.trueaudio
import mutagen.wave
import mutagen.wavpack
from mutagen import _util as mutagen_util
from mutagen._vorbis import VCommentDict
from mutagen.id3 import _specs as id3_specs

from player_plugin.domain.errors import SegueError
from player_plugin.domain.paths import display, to_bytes
from player_plugin.library.id3_frames import TEXT_IDS, RawID3, read_id3
from player_plugin.library.tag_values import (
    MAX_NAME_TEXT,
    MAX_TEXT,
    MAX_VALUES,
    cap,
    disc_track,
    first,
    float_or_none,
    numbering,
    pos_int,
    split_genres,
    values,
    year,
)

try:  # where mutagen finds an ID3v1 tag (private: without it, mutagen reads those files)
    from mutagen.id3._id3v1 import find_id3v1
except ImportError:  # pragma: no cover - another mutagen
    find_id3v1 = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_UTF16 = frozenset({"utf-16", "utf-16-le", "utf-16-be"})


def _decode_terminated(data: bytes, encoding: str, strict: bool = True) -> tuple[str, bytes]:
    """mutagen's ``decode_terminated`` with a fast path for UTF-16 (ID3v2.3 text), which it
    decodes one byte at a time: find the 2-byte NUL at an even offset, decode up to it (or
    all of it, not *strict*). Same results and errors (a test compares both); every other
    case goes to mutagen's own."""
    name = codecs.lookup(encoding).name
    # "utf-16" without a BOM is an error for mutagen's incremental decoder: leave it to it
    if name in _UTF16 and (name != "utf-16" or data[:2] in (codecs.BOM_LE, codecs.BOM_BE)):
        index = data.find(b"\x00\x00")
        while index != -1 and index % 2:
            index = data.find(b"\x00\x00", index + 1)
        if index != -1:
            return data[:index].decode(name), data[index + 2 :]
        if not strict:
            return data.decode(name), b""
    return mutagen_util.decode_terminated(data, encoding, strict)


class _FastTextSpec(id3_specs.EncodedTextSpec):
    """mutagen's text spec, reading UTF-16 text with :func:`_decode_terminated`.

    Only mutagen's first attempt (the data as it is) is done here, and only for UTF-16: when
    it decodes, mutagen's own ``read`` would have returned the same. Anything else (other
    encodings, text that needs one of mutagen's repairs) is mutagen's ``read``.
    """

    def read(self, header: Any, frame: Any, data: bytes) -> tuple[str, bytes]:
        encoding = self._encodings[frame.encoding][0]
        if codecs.lookup(encoding).name in _UTF16:
            try:
                value, rest = _decode_terminated(data, encoding, strict=False)
            except ValueError:  # UnicodeDecodeError too: mutagen tries its repairs
                pass
            else:
                if header.version < (2, 4, 0) and not rest.strip(b"\x00"):
                    rest = b""
                return value, rest
        return super().read(header, frame, data)


def _fast_spec(spec: Any) -> Any:
    if type(spec) is id3_specs.EncodedTextSpec:
        return _FastTextSpec(spec.name, spec.default)
    if type(spec) is id3_specs.MultiSpec and any(
        type(s) is id3_specs.EncodedTextSpec for s in spec.specs
    ):
        inner = [_fast_spec(s) for s in spec.specs]
        return id3_specs.MultiSpec(spec.name, *inner, sep=spec.sep, default=spec.default)
    return spec


def _fast_frames() -> dict[str, type] | None:
    """ID3 frame classes whose text specs are :class:`_FastTextSpec`: subclasses of mutagen's
    own, handed to mutagen through its public ``known_frames`` option, so mutagen itself is
    never changed (a host process's mutagen stays as it was). ID3v2.2 frames stay mutagen's
    (their upgrade to v2.3 names relies on their base class). None, meaning "mutagen's
    defaults", when mutagen's layout is not the one this was written for."""
    try:
        frames: dict[str, type] = dict(mutagen.id3.Frames_2_2)
        for frame_id, cls in mutagen.id3.Frames.items():
            specs = [_fast_spec(s) for s in cls._framespec]
            optional = [_fast_spec(s) for s in cls._optionalspec]
            if specs == list(cls._framespec) and optional == list(cls._optionalspec):
                frames[frame_id] = cls
                continue
            namespace = {"_framespec": specs, "_optionalspec": optional, "__module__": __name__}
            frames[frame_id] = type(cls.__name__, (cls,), namespace)
        return frames
    except (AttributeError, TypeError) as exc:  # a mutagen we do not know: its own frames
        log.debug("ID3 fast text path off: %s", exc)
        return None


_ID3_FRAMES = _fast_frames()
_KNOWN_FRAMES: dict[str, type] = _ID3_FRAMES if _ID3_FRAMES is not None else mutagen.id3.Frames


# Extension (lower case, bytes) -> the mutagen class to try first. Music people keep.
_CLASSES: dict[bytes, type] = {
    b".mp3": mutagen.mp3.MP3,
    b".mp2": mutagen.mp3.MP3,
    b".flac": mutagen.flac.FLAC,
    b".ogg": mutagen.oggvorbis.OggVorbis,
    b".oga": mutagen.oggvorbis.OggVorbis,
    b".opus": mutagen.oggopus.OggOpus,
    b".spx": mutagen.oggspeex.OggSpeex,
    b".m4a": mutagen.mp4.MP4,
    b".m4b": mutagen.mp4.MP4,
    b".mp4": mutagen.mp4.MP4,
    b".alac": mutagen.mp4.MP4,
    b".aac": mutagen.aac.AAC,
    b".wav": mutagen.wave.WAVE,
    b".aif": mutagen.aiff.AIFF,
    b".aiff": mutagen.aiff.AIFF,
    b".aifc": mutagen.aiff.AIFF,
    b".wma": mutagen.asf.ASF,
    b".asf": mutagen.asf.ASF,
    b".ape": mutagen.monkeysaudio.MonkeysAudio,
    b".wv": mutagen.wavpack.WavPack,
    b".mpc": mutagen.musepack.Musepack,
    b".mp+": mutagen.musepack.Musepack,
    b".tta": mutagen.trueaudio.TrueAudio,
    b".ofr": mutagen.optimfrog.OptimFROG,
    b".ofs": mutagen.optimfrog.OptimFROG,
    b".dsf": mutagen.dsf.DSF,
    b".dff": mutagen.dsdiff.DSDIFF,
    b".ac3": mutagen.ac3.AC3,
}
AUDIO_EXTENSIONS: frozenset[bytes] = frozenset(_CLASSES)
_KINDS: tuple[type, ...] = tuple(dict.fromkeys(_CLASSES.values()))

# mutagen class name -> (our format name, codec)
_FORMATS: dict[str, tuple[str, str | None]] = {
    "MP3": ("mp3", "mp3"),
    "EasyMP3": ("mp3", "mp3"),
    "FLAC": ("flac", "flac"),
    "OggVorbis": ("ogg", "vorbis"),
    "OggOpus": ("opus", "opus"),
    "OggSpeex": ("spx", "speex"),
    "OggFLAC": ("oga", "flac"),
    "MP4": ("m4a", None),
    "EasyMP4": ("m4a", None),
    "AAC": ("aac", "aac"),
    "WAVE": ("wav", "pcm"),
    "AIFF": ("aiff", "pcm"),
    "ASF": ("wma", None),
    "MonkeysAudio": ("ape", "ape"),
    "WavPack": ("wv", "wavpack"),
    "Musepack": ("mpc", "musepack"),
    "TrueAudio": ("tta", "tta"),
    "OptimFROG": ("ofr", "optimfrog"),
    "DSF": ("dsf", "dsd"),
    "DSDIFF": ("dff", "dsd"),
    "AC3": ("ac3", "ac3"),
}

__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_TEXT",
    "MAX_VALUES",
    "TagError",
    "TrackTags",
    "is_audio_name",
    "read_cover",
    "read_many",
    "read_tags",
    "try_read_tags",
]


class TagError(SegueError):
    """A file whose tags or audio properties cannot be read; carries the path and why."""

    path: bytes

    def __init__(self, path: bytes, reason: str) -> None:
        super().__init__(reason, to_bytes(path))
        self.os_error = False  # the file could not be opened or read at all


@dataclass(slots=True)
class TrackTags:
    """What one file says about itself, normalised across formats."""

    format: str
    codec: str | None = None
    title: str | None = None
    artist: str | None = None
    artists: list[str] = field(default_factory=list)
    album: str | None = None
    album_artist: str | None = None
    genres: list[str] = field(default_factory=list)
    year: int | None = None
    date: str | None = None
    track_no: int | None = None
    track_total: int | None = None
    disc_no: int | None = None
    disc_total: int | None = None
    composer: str | None = None
    duration_ms: int | None = None
    bitrate: int | None = None  # bits per second
    sample_rate: int | None = None
    channels: int | None = None
    mb_recording_id: str | None = None
    mb_artist_id: str | None = None
    mb_release_id: str | None = None
    isrc: str | None = None
    bpm: float | None = None
    replaygain_track_gain: float | None = None
    replaygain_album_gain: float | None = None
    has_cover: bool = False
    title_from_name: bool = False  # no title tag: the title is the file name

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_audio_name(name: bytes) -> bool:
    """Whether a file name has an audio extension we read: ``os.path.splitext``'s answer
    (leading dots start no extension), without its cost, once per file of every rescan."""
    base = name[name.rfind(b"/") + 1 :]
    dot = base.rfind(b".")
    if dot <= 0 or not base[:dot].lstrip(b"."):
        return False
    return base[dot:].lower() in AUDIO_EXTENSIONS


# --- the seam: every mutagen call goes through here ---------------------------------------

T = TypeVar("T")


def _mutagen_call(path: bytes, action: str, func: Callable[..., T], *args: Any) -> T:
    """Call mutagen; translate anything it raises into :class:`TagError` with the path."""
    try:
        return func(*args)
    except TagError:
        raise
    except mutagen.MutagenError as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, OSError) and cause.strerror:
            error = TagError(path, f"{action}: {cause.strerror}")
            error.os_error = True
            raise error from exc
        raise TagError(path, f"{action}: {_short(exc) or type(exc).__name__}") from exc
    except OSError as exc:
        error = TagError(path, f"{action}: {exc.strerror or _short(exc)}")
        error.os_error = True
        raise error from exc
    except Exception as exc:  # mutagen may raise anything on a corrupt file
        log.debug("mutagen raised on %s", display(path), exc_info=True)
        raise TagError(
            path, f"{action}: corrupt file ({type(exc).__name__}: {_short(exc)})"
        ) from exc


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip()
    return text[:200]


def _open(path: bytes, fileobj: BinaryIO | None = None) -> Any:
    """The mutagen object for *path*: the class its extension names, else a content probe."""
    target: Any = fileobj if fileobj is not None else os.fsdecode(path)
    cls = _CLASSES.get(os.path.splitext(path)[1].lower())
    first_error: TagError | None = None
    if cls is not None:
        try:
            if _ID3_FRAMES is not None and issubclass(cls, mutagen.id3.ID3FileType):
                opener: Callable[..., Any] = functools.partial(cls, known_frames=_ID3_FRAMES)
                return _mutagen_call(path, "cannot read", opener, target)
            return _mutagen_call(path, "cannot read", cls, target)
        except TagError as exc:
            first_error = exc
            if fileobj is None and _empty(path):
                raise TagError(path, "empty file (0 bytes)") from None
            if exc.os_error:
                raise
            if fileobj is not None:
                _mutagen_call(path, "cannot read", fileobj.seek, 0)
    # Unknown extension or a mislabelled file: let mutagen guess from the content.
    kinds = [kind for kind in _KINDS if kind is not cls]
    audio = _mutagen_call(path, "cannot read", mutagen.File, target, kinds)
    if audio is None:
        if first_error is not None:
            raise first_error
        raise TagError(path, "not a recognised audio file")
    return audio


def _empty(path: bytes) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False


def read_tags(path: bytes | str, fileobj: BinaryIO | None = None) -> TrackTags:
    """Tags and audio properties of one file (strict: raises :class:`TagError`).

    *fileobj*, when given, is read instead of opening *path* (which still names the file in
    errors and supplies the title when there is no title tag).
    """
    raw = os.fsencode(path)
    if fileobj is None and raw[-4:].lower() == b".mp3":
        found = _read_plain_mp3(raw)
        if found is not None:
            return found
    audio = _open(raw, fileobj)
    return _mutagen_call(raw, "cannot read tags", _normalise, raw, audio)


def _read_plain_mp3(path: bytes) -> TrackTags | None:
    """An MP3 whose ID3 tag is plain, its frames read by :func:`read_id3` instead of
    mutagen's frame objects (a tenth of the time) and its audio by mutagen's
    ``MPEGInfo``: the same :class:`TrackTags` as mutagen's way gives. None for any other
    file, and on any error: mutagen's way then reads it, or says what is wrong."""
    try:
        with open(path, "rb") as fileobj:
            raw = read_id3(fileobj, _KNOWN_FRAMES)
            if raw is None or (raw.v1 and not _add_id3v1(raw, fileobj)):
                return None
            info = mutagen.mp3.MPEGInfo(fileobj, raw.size)
        return _track_tags(path, "mp3", "mp3", info, _raw_id3_fields(raw))
    except Exception:  # mutagen's way reads it again, and says what is wrong
        return None


def try_read_tags(path: bytes | str, fileobj: BinaryIO | None = None) -> TrackTags | TagError:
    """Like :func:`read_tags`, but returns the :class:`TagError` instead of raising it."""
    try:
        return read_tags(path, fileobj)
    except TagError as exc:
        log.info("skipped %s", exc)
        return exc


def read_many(paths: list[bytes]) -> list[tuple[bytes, TrackTags | TagError]]:
    """:func:`try_read_tags` over a chunk of paths: the unit of work of a scan's pool."""
    return [(path, try_read_tags(path)) for path in paths]


def read_cover(path: bytes | str) -> bytes | None:
    """The embedded cover image's bytes (front cover first), or None. Never raises."""
    raw = os.fsencode(path)
    try:
        audio = _open(raw)
        return _mutagen_call(raw, "cannot read cover", _cover_data, audio)
    except TagError as exc:
        log.info("no cover: %s", exc)
        return None


# --- normalising ---------------------------------------------------------------------------


def _normalise(path: bytes, audio: Any) -> TrackTags:
    name = type(audio).__name__
    fmt, codec = _FORMATS.get(name, (name.lower(), None))
    return _track_tags(path, fmt, codec or _codec(audio), audio.info, _fields(audio))


def _track_tags(
    path: bytes, fmt: str, codec: str | None, info: Any, fields: dict[str, Any]
) -> TrackTags:
    """The :class:`TrackTags` of a file's format, stream *info* and raw tag *fields*."""
    tags = TrackTags(format=fmt, codec=codec)
    length = getattr(info, "length", None)
    if length and length > 0:
        tags.duration_ms = round(length * 1000)
    # Opus always decodes at 48 kHz; mutagen does not report it.
    tags.sample_rate = pos_int(getattr(info, "sample_rate", None)) or (
        48000 if fmt == "opus" else None
    )
    tags.channels = pos_int(getattr(info, "channels", None))
    tags.bitrate = pos_int(getattr(info, "bitrate", None))
    _apply(tags, fields)
    if tags.title is None:
        base = os.path.splitext(os.path.basename(path))[0]
        tags.title = base.decode("utf-8", errors="replace")[:MAX_NAME_TEXT] or None
        tags.title_from_name = True
    return tags


def _codec(audio: Any) -> str | None:
    info = audio.info
    if isinstance(audio, mutagen.mp4.MP4):
        codec = str(getattr(info, "codec", "") or "")
        return "aac" if codec.startswith("mp4a") else (codec or None)
    if isinstance(audio, mutagen.asf.ASF):
        return cap(getattr(info, "codec_name", None) or "wma")
    return None


def _fields(audio: Any) -> dict[str, Any]:
    """Raw values per normalised field name (strings or lists), from any tag family."""
    tags = audio.tags
    fields: dict[str, Any] = {}
    if isinstance(tags, mutagen.id3.ID3):
        fields = _id3_fields(tags)
    elif isinstance(tags, VCommentDict):
        fields = _vorbis_fields(tags)
        if getattr(audio, "pictures", None):
            fields["cover"] = True
    elif isinstance(tags, mutagen.mp4.MP4Tags):
        fields = _mp4_fields(tags)
    elif isinstance(tags, mutagen.asf.ASFTags):
        fields = _asf_fields(tags)
    elif isinstance(tags, mutagen.apev2.APEv2):
        fields = _ape_fields(tags)
    return fields


def _id3_fields(tags: mutagen.id3.ID3) -> dict[str, Any]:
    def text(key: str) -> list[str]:
        frame = tags.get(key)
        return [str(v) for v in frame.text] if frame is not None else []

    tcon = tags.get("TCON")
    return _id3_values(
        text,
        [(frame.desc, [str(v) for v in frame.text]) for frame in tags.getall("TXXX")],
        [(frame.owner, frame.data) for frame in tags.getall("UFID")],
        list(tcon.genres) if tcon is not None else None,
        bool(tags.getall("APIC")),
    )


def _add_id3v1(raw: RawID3, fileobj: BinaryIO) -> bool:
    """What mutagen does with an ID3v1 tag after the ID3v2 one: its frames (made as for
    the v2 tag's version: a v2.4 tag gets a TDRC, the others a TYER) join those the v2
    tag lacks. False when that cannot be done here (mutagen's way reads the file then)."""
    if find_id3v1 is None:
        return False
    frames, _offset = find_id3v1(fileobj, 4 if raw.version == 4 else 3, _KNOWN_FRAMES)
    for key, frame in (frames or {}).items():
        if key in TEXT_IDS and key not in raw.text:
            raw.text[key] = [str(v) for v in frame.text]
    return True


def _raw_id3_fields(raw: RawID3) -> dict[str, Any]:
    """:func:`_id3_fields` of the frames :func:`read_id3` found, with what mutagen does
    when it loads a tag done by its own frame classes: TCON's genres parsed (and the
    parsed ones parsed again), TYER/TDAT/TIME made a TDRC, its dates normalised."""
    stamps = list(_timestamps(tuple(raw.dates())))
    genres = list(_genres(tuple(raw.text["TCON"]))) if "TCON" in raw.text else None

    def text(key: str) -> list[str]:
        if key == "TDRC":
            return stamps
        return [] if key == "TYER" else list(raw.text.get(key, []))

    return _id3_values(text, raw.txxx, raw.ufid, genres, raw.picture)


@functools.lru_cache(maxsize=1024)
def _timestamps(dates: tuple[str, ...]) -> tuple[str, ...]:
    """TDRC's text as mutagen normalises it (its frame class does; a library repeats a
    few dates, hence the cache)."""
    if not dates:
        return ()
    tdrc: Any = mutagen.id3.TDRC(encoding=0, text=list(dates))
    return tuple(str(v) for v in tdrc.text)


@functools.lru_cache(maxsize=1024)
def _genres(text: tuple[str, ...]) -> tuple[str, ...]:
    """TCON's genres as mutagen gives them after loading a tag: its ``(13)``-style
    references resolved, then the result parsed once more (``update_to_v24``)."""
    tcon = mutagen.id3.TCON(encoding=3, text=list(text))
    tcon.genres = tcon.genres
    return tuple(tcon.genres)


def _id3_values(
    text: Callable[[str], list[str]],
    txxx_frames: list[tuple[str, list[str]]],
    ufid_frames: list[tuple[str, bytes]],
    genres: list[str] | None,
    cover: bool,
) -> dict[str, Any]:
    """Raw values per field from an ID3 tag's frames: *text* gives a text frame's values,
    TXXX and UFID frames come as (description or owner, values or data) in tag order."""
    txxx = {desc.casefold(): values for desc, values in txxx_frames}
    fields: dict[str, Any] = {
        "title": text("TIT2"),
        "artist": text("TPE1"),
        # ID3v2.3 has no multi-value frames: taggers join ARTISTS with "; " or "/".
        "artists": [a for v in txxx.get("artists", []) for a in re.split(r"; |\x00", v)],
        "album": text("TALB"),
        "album_artist": text("TPE2"),
        "date": text("TDRC") or text("TYER"),
        "track": text("TRCK"),
        "disc": text("TPOS"),
        "composer": text("TCOM"),
        "bpm": text("TBPM"),
        "isrc": text("TSRC"),
        "mb_artist_id": txxx.get("musicbrainz artist id", []),
        "mb_release_id": txxx.get("musicbrainz album id", []),
        "replaygain_track_gain": txxx.get("replaygain_track_gain", []),
        "replaygain_album_gain": txxx.get("replaygain_album_gain", []),
    }
    if genres is not None:
        fields["genres"] = genres
    for owner, data in ufid_frames:
        if owner == "http://musicbrainz.org":
            fields["mb_recording_id"] = [data.decode("ascii", "replace")]
    fields["cover"] = cover
    return fields


def _vorbis_fields(tags: VCommentDict) -> dict[str, Any]:
    data: dict[str, list[str]] = {}
    for key, value in tags:
        data.setdefault(key.lower(), []).append(value)

    def get(*keys: str) -> list[str]:
        for key in keys:
            if data.get(key):
                return data[key]
        return []

    fields: dict[str, Any] = {
        "title": get("title"),
        "artist": get("artist"),
        "artists": get("artists"),
        "album": get("album"),
        "album_artist": get("albumartist", "album artist", "album_artist"),
        "genres": get("genre"),
        "date": get("date", "year", "originaldate"),
        "track": get("tracknumber"),
        "track_total": get("tracktotal", "totaltracks"),
        "disc": get("discnumber"),
        "disc_total": get("disctotal", "totaldiscs"),
        "composer": get("composer"),
        "bpm": get("bpm"),
        "isrc": get("isrc"),
        "mb_recording_id": get("musicbrainz_trackid"),
        "mb_artist_id": get("musicbrainz_artistid"),
        "mb_release_id": get("musicbrainz_albumid"),
        "replaygain_track_gain": get("replaygain_track_gain"),
        "replaygain_album_gain": get("replaygain_album_gain"),
        "cover": bool(get("metadata_block_picture", "coverart")),
    }
    # Opus: R128 gains are Q7.8 fixed point relative to -23 LUFS; ReplayGain's is -18.
    for key, r128 in (
        ("replaygain_track_gain", "r128_track_gain"),
        ("replaygain_album_gain", "r128_album_gain"),
    ):
        if not fields[key] and data.get(r128):
            value = float_or_none(data[r128][0])
            if value is not None:
                fields[key] = [str(value / 256 + 5)]
    return fields


def _mp4_fields(tags: mutagen.mp4.MP4Tags) -> dict[str, Any]:
    def text(key: str) -> list[str]:
        return [str(v) for v in tags.get(key, [])]

    def free(name: str) -> list[str]:
        for key in (f"----:com.apple.iTunes:{name}", f"----:com.apple.iTunes:{name.upper()}"):
            if key in tags:
                return [bytes(v).decode("utf-8", "replace") for v in tags[key]]
        return []

    fields: dict[str, Any] = {
        "title": text("©nam"),
        "artist": text("©ART"),
        "artists": free("ARTISTS"),
        "album": text("©alb"),
        "album_artist": text("aART"),
        "genres": text("©gen"),
        "date": text("©day"),
        "composer": text("©wrt"),
        "bpm": [str(v) for v in tags.get("tmpo", [])],
        "isrc": free("ISRC"),
        "mb_recording_id": free("MusicBrainz Track Id"),
        "mb_artist_id": free("MusicBrainz Artist Id"),
        "mb_release_id": free("MusicBrainz Album Id"),
        "replaygain_track_gain": free("replaygain_track_gain"),
        "replaygain_album_gain": free("replaygain_album_gain"),
        "cover": bool(tags.get("covr")),
    }
    if not fields["genres"] and tags.get("gnre"):
        fields["genres"] = [
            mutagen.id3.TCON.GENRES[g - 1]
            for g in tags["gnre"]
            if isinstance(g, int) and 0 < g <= len(mutagen.id3.TCON.GENRES)
        ]
    for key, atom in (("track", "trkn"), ("disc", "disk")):
        pairs = tags.get(atom) or []
        if pairs and isinstance(pairs[0], tuple) and len(pairs[0]) == 2:
            number, total = pairs[0]
            fields[key] = [str(number)]
            fields[f"{key}_total"] = [str(total)] if total else []
    return fields


def _asf_fields(tags: mutagen.asf.ASFTags) -> dict[str, Any]:
    def text(*keys: str) -> list[str]:
        for key in keys:
            values = tags.get(key)
            if values:
                return [str(v.value) for v in values]
        return []

    return {
        "title": text("Title"),
        "artist": text("Author"),
        "artists": text("WM/ARTISTS"),
        "album": text("WM/AlbumTitle"),
        "album_artist": text("WM/AlbumArtist"),
        "genres": text("WM/Genre"),
        "date": text("WM/Year", "WM/OriginalReleaseYear"),
        "track": text("WM/TrackNumber", "WM/Track"),
        "track_total": text("TotalTracks", "WM/TrackTotal"),
        "disc": text("WM/PartOfSet"),
        "composer": text("WM/Composer"),
        "bpm": text("WM/BeatsPerMinute"),
        "isrc": text("WM/ISRC"),
        "mb_recording_id": text("MusicBrainz/Track Id"),
        "mb_artist_id": text("MusicBrainz/Artist Id"),
        "mb_release_id": text("MusicBrainz/Album Id"),
        "replaygain_track_gain": text("replaygain_track_gain", "REPLAYGAIN_TRACK_GAIN"),
        "replaygain_album_gain": text("replaygain_album_gain", "REPLAYGAIN_ALBUM_GAIN"),
        "cover": bool(tags.get("WM/Picture")),
    }


def _ape_fields(tags: mutagen.apev2.APEv2) -> dict[str, Any]:
    def text(*keys: str) -> list[str]:
        for key in keys:  # APEv2 keys are case-insensitive in mutagen
            value = tags.get(key)
            if value is not None and value.kind == mutagen.apev2.TEXT:
                return list(value)
        return []

    return {
        "title": text("Title"),
        "artist": text("Artist"),
        "artists": text("Artists"),
        "album": text("Album"),
        "album_artist": text("Album Artist", "AlbumArtist"),
        "genres": text("Genre"),
        "date": text("Year", "Date"),
        "track": text("Track"),
        "disc": text("Disc"),
        "composer": text("Composer"),
        "bpm": text("BPM"),
        "isrc": text("ISRC"),
        "mb_recording_id": text("MUSICBRAINZ_TRACKID"),
        "mb_artist_id": text("MUSICBRAINZ_ARTISTID"),
        "mb_release_id": text("MUSICBRAINZ_ALBUMID"),
        "replaygain_track_gain": text("REPLAYGAIN_TRACK_GAIN"),
        "replaygain_album_gain": text("REPLAYGAIN_ALBUM_GAIN"),
        "cover": any(key.lower().startswith("cover art") for key in tags),
    }


def _apply(tags: TrackTags, fields: dict[str, Any]) -> None:
    """Fill *tags* from raw *fields*: first values, capped; numbers parsed leniently."""
    for key in ("title", "album", "album_artist", "composer", "isrc"):
        setattr(tags, key, first(fields.get(key)))
    artists = values(fields.get("artist"))
    tags.artist = cap("; ".join(artists)) if artists else None
    tags.artists = values(fields.get("artists")) or artists
    tags.genres = split_genres(fields.get("genres"))
    for key in ("mb_recording_id", "mb_artist_id", "mb_release_id"):
        setattr(tags, key, first(fields.get(key), limit=64))
    date = first(fields.get("date"), limit=64)
    tags.date = date
    tags.year = year(date)
    for key in ("track", "disc"):
        number, total = numbering(first(fields.get(key), limit=64))
        setattr(tags, f"{key}_no", number)
        explicit = pos_int(first(fields.get(f"{key}_total"), limit=64))
        setattr(tags, f"{key}_total", explicit or total)
    combined = disc_track(first(fields.get("track"), limit=64))
    if combined is not None:  # "1-03": disc 1's third track (the disc tag, if any, wins)
        disc, tags.track_no, total = combined
        tags.disc_no = tags.disc_no or disc
        tags.track_total = tags.track_total or total  # an explicit total tag, else "/14"
    bpm = float_or_none(first(fields.get("bpm"), limit=64))
    tags.bpm = bpm if bpm is not None and 0 < bpm < 1000 else None
    for key in ("replaygain_track_gain", "replaygain_album_gain"):
        gain = float_or_none(first(fields.get(key), limit=64))
        setattr(tags, key, gain if gain is not None and -100 < gain < 100 else None)
    tags.has_cover = bool(fields.get("cover"))


def _cover_data(audio: Any) -> bytes | None:
    tags = audio.tags
    if isinstance(tags, mutagen.id3.ID3):
        frames = sorted(tags.getall("APIC"), key=lambda f: f.type != 3)
        return bytes(frames[0].data) if frames else None
    if getattr(audio, "pictures", None):
        pictures = sorted(audio.pictures, key=lambda p: p.type != 3)
        return bytes(pictures[0].data)
    if isinstance(tags, VCommentDict):
        for value in tags.get("metadata_block_picture", []):
            return bytes(mutagen.flac.Picture(base64.b64decode(value)).data)
        return None
    if isinstance(tags, mutagen.mp4.MP4Tags):
        covers = tags.get("covr") or []
        return bytes(covers[0]) if covers else None
    if isinstance(tags, mutagen.asf.ASFTags):
        for attr in tags.get("WM/Picture", []):
            return _asf_picture(bytes(attr.value))
        return None
    if isinstance(tags, mutagen.apev2.APEv2):
        for key in tags:
            if key.lower().startswith("cover art"):
                value = tags[key].value
                return value.split(b"\x00", 1)[1] if b"\x00" in value else value
    return None


def _asf_picture(blob: bytes) -> bytes | None:
    """The image inside a WM/Picture blob: type, size, mime and description (UTF-16), data."""
    pos = 5
    for _ in range(2):  # skip the two NUL-terminated UTF-16 strings
        while pos + 1 < len(blob) and blob[pos : pos + 2] != b"\x00\x00":
            pos += 2
        pos += 2
    return blob[pos:] or None
