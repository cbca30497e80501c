"""MP3 tags read from the tag's bytes (player_plugin.library.id3_frames) must be exactly
what mutagen's way reads, or not read at all (mutagen reads those files then).

Real MP3 audio (soundfile) behind ID3 tags written by mutagen in every text encoding and
version, and behind tags built byte by byte where mutagen has rules of its own: iTunes'
non-syncsafe frame sizes, frames with no text or a bad encoding byte, v2.3 dates in
TYER/TDAT/TIME, numeric genres, duplicate frames, flags, an ID3v1 tag; then hundreds of
randomly damaged tags. Each is read both ways and compared field by field.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import mutagen.id3 as id3
import pytest
from audio_fixtures import encode

from player_plugin.library import tags as T
from player_plugin.library.id3_frames import TEXT_IDS, V22_NAMES

MB = "http://musicbrainz.org"


def mutagen_way(path: Path) -> T.TrackTags | str:
    raw = bytes(path)
    try:
        return T._mutagen_call(raw, "cannot read tags", T._normalise, raw, T._open(raw))
    except T.TagError as exc:
        return f"error: {exc}"


def fast_way(path: Path) -> T.TrackTags | None:
    return T._read_plain_mp3(bytes(path))


def same_or_declined(path: Path) -> bool:
    """True when the fast way read *path* and agrees with mutagen's (the raw values of
    each field, and the normalised tags), False when it left it to mutagen; a
    disagreement fails the test."""
    fast = fast_way(path)
    if fast is None:
        return False
    slow = mutagen_way(path)
    assert isinstance(slow, T.TrackTags), (path.name, slow)
    assert fast.as_dict() == slow.as_dict(), path.name
    with path.open("rb") as fileobj:
        raw = T.read_id3(fileobj, T._KNOWN_FRAMES)
        assert raw is not None
        assert not raw.v1 or T._add_id3v1(raw, fileobj)
    assert T._raw_id3_fields(raw) == T._fields(T._open(bytes(path))), path.name
    return True


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> bytes:
    """MPEG audio frames with no tag in front."""
    path = tmp_path_factory.mktemp("mp3") / "tone.mp3"
    encode(path, "mp3", seconds=1.0)
    data = path.read_bytes()
    if data[:3] == b"ID3":  # whatever the encoder wrote in front goes
        size = sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10]))
        data = data[10 + size :]
    return data


def syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def frame(name: str, body: bytes, *, version: int = 4, flags: int = 0, plain: bool = False):
    size = struct.pack(">I", len(body)) if version == 3 or plain else syncsafe(len(body))
    return name.encode("latin-1") + size + struct.pack(">H", flags) + body


def tag(frames: list[bytes], *, version: int = 4, flags: int = 0, padding: int = 64) -> bytes:
    body = b"".join(frames) + b"\x00" * padding
    return b"ID3" + bytes([version, 0, flags]) + syncsafe(len(body)) + body


def text(encoding: int, *values: str, term: bool = True) -> bytes:
    codec = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}[encoding]
    nul = b"\x00\x00" if encoding in (1, 2) else b"\x00"
    parts = [v.encode(codec) for v in values]
    return bytes([encoding]) + nul.join(parts) + (nul if term else b"")


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / f"{name}.mp3"
    path.write_bytes(data)
    return path


def test_tags_mutagen_writes_are_read_the_same_without_it(tmp_path, audio) -> None:
    """Every encoding, both versions, multiple values, TXXX, UFID, a picture, frames Segue
    does not read: all read by the fast way, all equal to mutagen's."""
    taken = 0
    for version in (3, 4):
        for encoding in (0, 1, 2, 3):
            path = write(tmp_path, f"w{version}{encoding}", audio)
            tags = id3.ID3()
            values = ["Björk", "Ænima"] if encoding else ["Bjork", "Aenima"]
            tags.add(id3.TIT2(encoding=encoding, text=["Jóga" if encoding else "Joga"]))
            tags.add(id3.TPE1(encoding=encoding, text=values))
            tags.add(id3.TALB(encoding=encoding, text=["Homogenic"]))
            tags.add(id3.TPE2(encoding=encoding, text=["Various"]))
            tags.add(id3.TCON(encoding=encoding, text=["(13)", "Rock", "17"]))
            tags.add(id3.TDRC(encoding=encoding, text=["1997-09-22 10:30"]))
            tags.add(id3.TRCK(encoding=encoding, text=["3/10"]))
            tags.add(id3.TPOS(encoding=encoding, text=["1/2"]))
            tags.add(id3.TBPM(encoding=encoding, text=["121"]))
            tags.add(id3.TSRC(encoding=encoding, text=["GBAYE9700001"]))
            tags.add(id3.TCOM(encoding=encoding, text=["Björk" if encoding else "B"]))
            tags.add(id3.TXXX(encoding=encoding, desc="ARTISTS", text=values))
            tags.add(id3.TXXX(encoding=encoding, desc="MusicBrainz Album Id", text=["a-b"]))
            tags.add(id3.TXXX(encoding=encoding, desc="REPLAYGAIN_TRACK_GAIN", text=["-6 dB"]))
            tags.add(id3.UFID(owner=MB, data=b"0f3e-rec"))
            tags.add(id3.APIC(encoding=encoding, mime="image/png", type=3, desc="c", data=b"x"))
            tags.add(id3.COMM(encoding=encoding, lang="eng", desc="", text=["a comment"]))
            tags.add(id3.PRIV(owner="someone", data=b"\x00\x01"))
            tags.save(str(path), v2_version=version)
            taken += same_or_declined(path)
    assert taken == 8


def test_frames_built_by_hand_follow_mutagens_rules(tmp_path, audio) -> None:
    """Where mutagen has rules of its own, the fast way reads the file the same or not at
    all; each case says which it must be."""
    big = "x" * 300  # a frame over 127 bytes: syncsafe and plain sizes differ
    cases: dict[str, tuple[bytes, bool]] = {
        "plain": (tag([frame("TIT2", text(3, "Song")), frame("TPE1", text(0, "A"))]), True),
        "no terminator": (tag([frame("TIT2", text(1, "Song", term=False))]), True),
        "values then nul, v2.3": (
            tag([frame("TIT2", text(0, "A", "B") + b"\x00\x00", version=3)], version=3),
            True,
        ),
        "values then nul, v2.4": (tag([frame("TIT2", text(0, "A", "B") + b"\x00")]), True),
        "itunes sizes": (
            tag([frame("TIT2", text(3, big), plain=True), frame("TPE1", text(3, "A"), plain=True)]),
            True,
        ),
        "big syncsafe frame": (
            tag([frame("TIT2", text(3, big)), frame("TPE1", text(0, "A"))]),
            True,
        ),
        "no text": (tag([frame("TIT2", b"\x03"), frame("TPE1", text(0, "A"))]), True),
        "bad encoding byte": (tag([frame("TIT2", b"\x07Song"), frame("TPE1", text(0, "A"))]), True),
        "txxx with no value": (tag([frame("TXXX", b"\x03ARTISTS\x00")]), True),
        "v2.3 dates": (
            tag(
                [
                    frame("TYER", text(0, "1984"), version=3),
                    frame("TDAT", text(0, "2103"), version=3),
                    frame("TIME", text(0, "1745"), version=3),
                ],
                version=3,
            ),
            True,
        ),
        "v2.3 year only": (tag([frame("TYER", text(0, "1984"), version=3)], version=3), True),
        "tdrc beats tyer": (
            tag([frame("TYER", text(0, "1984")), frame("TDRC", text(0, "2001-02"))]),
            True,
        ),
        "numeric genres": (tag([frame("TCON", text(0, "(13)(17)Funk", "4"))]), True),
        "ufid": (tag([frame("UFID", MB.encode() + b"\x00abc-def")]), True),
        "picture, no description": (tag([frame("APIC", b"\x00image/png\x00\x03")]), True),
        "picture": (tag([frame("APIC", b"\x00image/png\x00\x03\x00data")]), True),
        "unknown frame": (tag([frame("XYZW", b"junk"), frame("TIT2", text(0, "S"))]), True),
        "empty frame": (tag([frame("TIT2", b""), frame("TPE1", text(0, "A"))]), True),
        "utf-16 without bom": (tag([frame("TIT2", b"\x01S\x00o\x00\x00\x00")]), False),
        "bad utf-8": (tag([frame("TIT2", b"\x03\xff\xfe\x00")]), False),
        "duplicate text frame": (
            tag([frame("TIT2", text(0, "A")), frame("TIT2", text(0, "B"))]),
            False,
        ),
        "duplicate txxx": (
            tag([frame("TXXX", text(0, "ARTISTS", "A")), frame("TXXX", text(0, "ARTISTS", "B"))]),
            False,
        ),
        "unsynchronised tag": (tag([frame("TIT2", text(0, "S"))], flags=0x80), False),
        "extended header": (tag([frame("TIT2", text(0, "S"))], flags=0x40), False),
        "compressed frame": (tag([frame("TIT2", text(0, "S"), flags=0x0008)]), False),
        "v2.2 name in v2.3": (
            tag([frame("TT2\x00", text(0, "S"), version=3)], version=3),
            False,
        ),
        "id3v2.2, flags": (tag22([frame22("TT2", text(0, "Song"))], flags=0x80), False),
    }
    for name, (head, fast) in cases.items():
        path = write(tmp_path, name.replace(" ", "-").replace(",", ""), head + audio)
        assert same_or_declined(path) is fast, name


def frame22(name: str, body: bytes) -> bytes:
    return name.encode("latin-1") + len(body).to_bytes(3, "big") + body


def tag22(frames: list[bytes], *, flags: int = 0, padding: int = 32) -> bytes:
    body = b"".join(frames) + b"\x00" * padding
    return b"ID3" + bytes([2, 0, flags]) + syncsafe(len(body)) + body


def test_id3v22_frames_are_read_under_the_names_mutagen_upgrades_them_to(tmp_path, audio):
    """Old iTunes wrote ID3v2.2: three-letter frames mutagen upgrades (TT2 -> TIT2, PIC ->
    APIC, TYE/TDA/TIM -> TDRC...). The names here are mutagen's own upgrades, and every
    tag below reads as mutagen reads it."""
    wanted = TEXT_IDS | {"TXXX", "UFID", "APIC"}
    upgrades = {
        name: cls.__base__.__name__
        for name, cls in id3.Frames_2_2.items()
        if cls.__base__.__name__ in wanted
    }
    assert upgrades == V22_NAMES
    full = [
        frame22("TT2", text(1, "Jóga")),
        frame22("TP1", text(0, "Björk", "Bjork") + b"\x00\x00"),  # trailing NULs end it
        frame22("TAL", text(3, "Homogenic")),
        frame22("TP2", text(0, "Various")),
        frame22("TYE", text(0, "1997")),
        frame22("TDA", text(0, "2209")),
        frame22("TIM", text(0, "1030")),
        frame22("TRK", text(0, "3/10")),
        frame22("TPA", text(0, "1/1")),
        frame22("TCO", text(0, "(13)Pop")),
        frame22("TCM", text(0, "Someone")),
        frame22("TBP", text(0, "120")),
        frame22("TRC", text(0, "ISRC1")),
        frame22("TXX", text(0, "ARTISTS", "Björk")),
        frame22("UFI", MB.encode() + b"\x00rec-id"),
        frame22("COM", b"\x00engcomment\x00text"),
        frame22("PIC", b"\x00PNG\x03desc\x00" + bytes(50)),
    ]
    cases = {
        "v22 full": (tag22(full), True),
        "v22 picture, no description": (tag22([frame22("PIC", b"\x00JPG\x03")]), True),
        "v22 picture, not ascii": (tag22([frame22("PIC", b"\x00J\xffG\x03d\x00")]), True),
        "v22 empty frame": (tag22([frame22("TT2", b""), frame22("TP1", text(0, "A"))]), True),
        "v22 unknown": (tag22([frame22("XYZ", b"junk"), frame22("TT2", text(0, "S"))]), True),
        "v22 duplicate": (
            tag22([frame22("TT2", text(0, "A")), frame22("TT2", text(0, "B"))]),
            False,
        ),
        "v22 with v1": (tag22(full[:3]) + audio + v1_tag("v1", "v1 artist", "1999", 4, 8), True),
    }
    for name, (head, fast) in cases.items():
        data = head if name == "v22 with v1" else head + audio
        path = write(tmp_path, name.replace(" ", "-").replace(",", ""), data)
        assert same_or_declined(path) is fast, name


def v1_tag(title: str = "", artist: str = "", year: str = "", track: int = 0, genre: int = 255):
    def cut(value: str, n: int) -> bytes:
        return value.encode("latin-1")[:n].ljust(n, b"\x00")

    comment = cut("a comment", 28) + (bytes([0, track]) if track else cut("", 2))
    return (
        b"TAG"
        + cut(title, 30)
        + cut(artist, 30)
        + cut("Album v1", 30)
        + cut(year, 4)
        + (comment + bytes([genre]))
    )


def test_an_id3v1_tag_fills_what_the_v2_tag_lacks_as_in_mutagen(tmp_path, audio) -> None:
    """mutagen adds an ID3v1 tag's fields to those the ID3v2 tag lacks (its year as TYER
    beside a v2.3 tag, where TDAT and TIME then join it): the same here, read fast."""
    v24 = [frame("TIT2", text(3, "v2 title")), frame("TCON", text(0, "Jazz"))]
    v23 = [
        frame("TIT2", text(1, "v2 title"), version=3),
        frame("TDAT", text(0, "0304"), version=3),
        frame("TIME", text(0, "1200"), version=3),
    ]
    cases = {
        "v1 v2.4": tag(v24) + audio + v1_tag("v1 title", "v1 artist", "1999", 7, 17),
        "v1 v2.3": tag(v23, version=3) + audio + v1_tag("v1", "v1 artist", "1988", 2, 8),
        "v1 no track": tag(v24) + audio + v1_tag(artist="Someone", year="20"),
        "v1 empty": tag(v24) + audio + v1_tag(),
        "v1 only TAG bytes": tag(v24) + audio + b"TAG" + bytes(40),
    }
    for name, data in cases.items():
        path = write(tmp_path, name.replace(" ", "-"), data)
        assert same_or_declined(path), name


def test_damaged_tags_are_read_the_same_or_left_to_mutagen(tmp_path, audio) -> None:
    """Random bytes of a full tag overwritten, 400 times: whatever the fast way reads, it
    reads as mutagen's way does."""
    base = tag(
        [
            frame("TIT2", text(1, "Jóga")),
            frame("TPE1", text(3, "Björk", "Bjork")),
            frame("TXXX", text(0, "ARTISTS", "A", "B")),
            frame("TDRC", text(0, "1997")),
            frame("TCON", text(0, "(13)Pop")),
            frame("UFID", MB.encode() + b"\x00id"),
            frame("APIC", b"\x00image/jpeg\x00\x03\x00" + bytes(200)),
            frame("TRCK", text(3, "3/10")),
        ]
    )
    rng = random.Random(7)
    taken = 0
    for k in range(400):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(10, len(base))] = rng.randrange(256)
        taken += same_or_declined(write(tmp_path, f"d{k}", bytes(data) + audio))
    assert taken > 100  # most damage lands in text or padding: still the plain case
