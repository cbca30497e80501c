"""The frames Segue reads from a plain ID3v2.2/2.3/2.4 tag, straight from its bytes.

mutagen builds an object per frame through its spec machinery: about 20 µs a frame, 320 µs
for a typical MP3's tag, most of a first scan's time. :func:`read_id3` walks the tag as
mutagen's ``read_frames`` does (the same frame sizes, iTunes' non-syncsafe ones included,
the same empty or unknown frames skipped) and decodes only the frames Segue reads, with
mutagen's text rules (values split at NUL; before v2.4 trailing NULs end the list; frames
with no text, or a bad encoding byte, dropped). ID3v2.2's frames are read under the v2.3
names mutagen upgrades them to. Anything less plain returns None and the caller reads the
file with mutagen: no tag at the start, tag flags (unsynchronisation, an extended header, a
footer), frame format flags (compression, encryption, grouping), v2.2 names inside a v2.3
tag, a frame Segue reads twice (mutagen merges those), or text that does not decode as
written (mutagen repairs it). Whether an ID3v1 tag may follow the audio is said (``v1``):
mutagen adds its fields to those the ID3v2 tag lacks, and so must the caller. The result
is the same as mutagen's, or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import BinaryIO

__all__ = ["TEXT_IDS", "V22_NAMES", "RawID3", "read_id3"]

TEXT_IDS = frozenset(
    {
        "TIT2",
        "TPE1",
        "TALB",
        "TPE2",
        "TDRC",
        "TYER",
        "TDAT",
        "TIME",
        "TRCK",
        "TPOS",
        "TCOM",
        "TBPM",
        "TSRC",
        "TCON",
    }
)
# ID3v2.2 frames Segue reads -> the frame mutagen upgrades each to (its class's base)
V22_NAMES = {
    "TT2": "TIT2",
    "TP1": "TPE1",
    "TP2": "TPE2",
    "TAL": "TALB",
    "TYE": "TYER",
    "TDA": "TDAT",
    "TIM": "TIME",
    "TRK": "TRCK",
    "TPA": "TPOS",
    "TCM": "TCOM",
    "TBP": "TBPM",
    "TRC": "TSRC",
    "TCO": "TCON",
    "TXX": "TXXX",
    "UFI": "UFID",
    "PIC": "APIC",
}
_FORMAT_FLAGS = {3: 0x00E0, 4: 0x004F}  # compression, encryption, grouping (+ v2.4's
# unsynchronisation and data length)
_V1_TAIL = 133  # mutagen looks for an ID3v1 "TAG" in the last 128 + 5 bytes
_EMPTY = b"\x00" * 10
_CODECS = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}


class _Unusual(Exception):
    """Not the plain case: mutagen reads this file."""


@dataclass
class RawID3:
    """What :func:`read_id3` found: the tag's version (2, 3 or 4) and size (where the audio
    starts), whether the file ends in what may be an ID3v1 tag, the text of each text
    frame Segue reads, TXXX (description, values) and UFID (owner, data) in the tag's
    order, and whether a picture frame mutagen keeps is there."""

    version: int
    size: int
    v1: bool = False
    text: dict[str, list[str]] = field(default_factory=dict)
    txxx: list[tuple[str, list[str]]] = field(default_factory=list)
    ufid: list[tuple[str, bytes]] = field(default_factory=list)
    picture: bool = False

    def dates(self) -> list[str]:
        """TDRC's values, or those mutagen makes of TYER, TDAT and TIME when loading a tag
        (``ID3Tags.update_to_v24``; before its timestamp normalising)."""
        if "TDRC" in self.text:
            return self.text["TDRC"]
        stamps = []
        old = [self.text.get(key, []) for key in ("TYER", "TDAT", "TIME")]
        for tyer, tdat, time in zip_longest(*old, fillvalue=""):
            ym = re.match(r"([0-9]{4})(-[0-9]{2}-[0-9]{2})?\Z", tyer)
            dm = re.match(r"([0-9]{2})([0-9]{2})\Z", tdat)
            tm = re.match(r"([0-9]{2})([0-9]{2})\Z", time)
            stamp = ""
            if ym:
                year, month_day = ym.groups()
                stamp += year
                if dm:
                    month_day = "-{}-{}".format(*dm.groups()[::-1])
                if month_day:
                    stamp += month_day
                    if tm:
                        stamp += "T{}:{}:00".format(*tm.groups())
            if stamp:
                stamps.append(stamp)
        return stamps


def read_id3(fileobj: BinaryIO, known: Container[str]) -> RawID3 | None:
    """The frames of the ID3v2 tag at the start of *fileobj*, or None when it is not
    the plain case (see the module text). *known* are the frame ids mutagen knows (they
    decide the frame sizes of a v2.4 tag, as in mutagen)."""
    head = fileobj.read(10)
    if len(head) < 10 or head[:3] != b"ID3" or head[3] not in (2, 3, 4) or head[5]:
        return None
    if any(b & 0x80 for b in head[6:10]):
        return None
    size = _syncsafe(head[6:10])
    data = fileobj.read(size)
    end = fileobj.seek(0, 2)
    if len(data) != size or end < _V1_TAIL:
        return None
    fileobj.seek(end - _V1_TAIL)
    v1 = b"TAG" in fileobj.read(_V1_TAIL)
    try:
        out = RawID3(head[3], size + 10, v1)
        return _frames_v22(data, known, out) if head[3] == 2 else _frames(data, known, out)
    except (_Unusual, UnicodeError):
        return None


def _syncsafe(raw: bytes) -> int:
    """mutagen's ``BitPaddedInt``: seven bits of each byte (the eighth ignored)."""
    return (raw[0] & 0x7F) << 21 | (raw[1] & 0x7F) << 14 | (raw[2] & 0x7F) << 7 | raw[3] & 0x7F


def _plain(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def _plain_sizes(data: bytes, known: Container[str]) -> bool:
    """mutagen's ``determine_bpi``: whether a v2.4 tag's frame sizes are plain (as iTunes
    wrote them) rather than syncsafe (as the standard says): whichever walk meets more
    known frames, or ends closer to the tag's end."""
    walks = []
    for size_of in (_syncsafe, _plain):
        o = found = 0
        while o < len(data) - 10:
            part = data[o : o + 10]
            if part == _EMPTY:
                off = -((len(data) - o) % 10)
                break
            o += 10 + size_of(part[4:8])
            try:
                name = part[:4].decode("ascii")
            except UnicodeDecodeError:
                continue
            found += name in known
        else:
            off = o - len(data)
        walks.append((found, off))
    (asbpi, bpioff), (asint, intoff) = walks
    return asint > asbpi or (asint == asbpi and (bpioff >= 1 and intoff <= 1))


def _walk(
    data: bytes, name_size: int, size_of: Callable[[bytes], int]
) -> Iterator[tuple[str, bytes, bytes]]:
    """mutagen's ``read_frames`` walk over *data*: (name, flags, body) of each frame with a
    size and an ASCII name, until the padding. v2.2 frames have three-letter names and
    three-byte sizes, no flags (*name_size* 3); v2.3/2.4 ones four of each, two flag bytes."""
    head = 6 if name_size == 3 else 10
    pos = 0
    while pos < len(data):
        header = data[pos : pos + head]
        if len(header) < head or header[:name_size].strip(b"\x00") == b"":
            break
        size = size_of(header[name_size : 2 * name_size])
        body = data[pos + head : pos + head + size]
        pos += head + size
        if size == 0:
            continue
        try:
            name = header[:name_size].decode("ascii")
        except UnicodeDecodeError:
            continue
        yield name, header[2 * name_size :], body


def _frames_v22(data: bytes, known: Container[str], out: RawID3) -> RawID3:
    """The v2.2 frames Segue reads, decoded under the names mutagen upgrades them to."""
    seen: set[str] = set()
    for name, _flags, body in _walk(data, 3, _plain):
        if name in known and name in V22_NAMES:
            _decode(V22_NAMES[name], body, 2, out, seen)
    return out


def _frames(data: bytes, known: Container[str], out: RawID3) -> RawID3:
    """The v2.3/2.4 frames Segue reads, decoded."""
    version = out.version
    size_of = _plain if version == 3 or _plain_sizes(data, known) else _syncsafe
    format_flags = _FORMAT_FLAGS[version]
    seen: set[str] = set()
    for name, flags, body in _walk(data, 4, size_of):
        if name[-1] == "\x00":  # a v2.2 name in a v2.3 tag: mutagen upgrades it
            raise _Unusual
        if name not in known:
            continue
        if _plain(flags) & format_flags:
            raise _Unusual
        if name in TEXT_IDS or name in ("TXXX", "UFID", "APIC"):
            _decode(name, body, version, out, seen)
    return out


def _decode(name: str, body: bytes, version: int, out: RawID3, seen: set[str]) -> None:
    """One frame Segue reads into *out* (a frame mutagen would drop is left out)."""
    v24 = version == 4
    if name == "UFID":
        owner, _, rest = body.partition(b"\x00")
        _once(f"UFID:{owner.decode('latin-1')}", seen)
        out.ufid.append((owner.decode("latin-1"), rest))
        return
    encoding, rest = body[0], body[1:]
    if encoding not in _CODECS or not rest:
        return  # mutagen: a bad encoding or no data left, the frame dropped
    if name == "APIC":
        if version == 2:  # PIC: a three-letter image format, not a MIME type
            if not rest[:3].isascii():
                return  # dropped
            rest = rest[3:]
        else:
            _mime, nul, rest = rest.partition(b"\x00")
            if not nul:
                return  # no picture type: dropped
        if not rest[1:]:
            return  # no picture type, or no description: dropped
        _text(rest[1:], encoding, v24)  # the description must decode
        out.picture = True
        return
    if name == "TXXX":
        desc, rest = _text(rest, encoding, v24)
        if not rest:
            return  # no value: dropped
        _once(f"TXXX:{desc}", seen)
        out.txxx.append((desc, _texts(rest, encoding, v24)))
        return
    _once(name, seen)
    out.text[name] = _texts(rest, encoding, v24)


def _once(key: str, seen: set[str]) -> None:
    """A second frame with the same key: mutagen merges the two."""
    if key in seen:
        raise _Unusual
    seen.add(key)


def _texts(data: bytes, encoding: int, v24: bool) -> list[str]:
    """mutagen's ``MultiSpec`` of encoded text: values until the data is used up."""
    values = []
    while data:
        value, data = _text(data, encoding, v24)
        values.append(value)
    return values


def _text(data: bytes, encoding: int, v24: bool) -> tuple[str, bytes]:
    """mutagen's ``EncodedTextSpec.read`` where it decodes the data as it is: the text up
    to its terminator, and the rest (none in v2.3 when only NULs are left). Text mutagen
    would have to repair raises (UTF-16 without a byte-order mark, bad bytes)."""
    if encoding in (0, 3):
        index = data.find(b"\x00")
        if index == -1:
            value, rest = data.decode(_CODECS[encoding]), b""
        else:
            value, rest = data[:index].decode(_CODECS[encoding]), data[index + 1 :]
    else:
        if encoding == 1 and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
            raise _Unusual
        index = data.find(b"\x00\x00")
        while index != -1 and index % 2:
            index = data.find(b"\x00\x00", index + 1)
        if index == -1:
            value, rest = data.decode(_CODECS[encoding]), b""
        else:
            value, rest = data[:index].decode(_CODECS[encoding]), data[index + 2 :]
    if not v24 and not rest.strip(b"\x00"):
        rest = b""
    return value, rest
