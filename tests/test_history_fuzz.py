"""Property-based tests (hypothesis): whatever bytes a history file or a tag holds, the
readers give plays, malformed rows or one clear error (HistoryFormatError) — never an
unhandled exception — and every play they give has sane numbers once validated."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from player_plugin.domain import validate
from player_plugin.library import tag_values
from player_plugin.library.history.common import HistoryFormatError, ReadStats
from player_plugin.library.history.importer import checked_play
from player_plugin.library.history.readers import FORMATS, read_file
from player_plugin.library.history.records import HistoryPlay, Malformed

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Values that broke readers before: overflowing floats, huge ints, odd types, NULs.
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e400, -1e400, 1e25, 1e13, 1e16, 1e20, 1700000000, 0, -1]),
)
texts = st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "Ro\x00ads", " "]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _consume(path: Path, fmt: str) -> None:
    """Read the whole file; each item a play or a malformed row, each play checked."""
    try:
        for item in read_file(path, fmt, ReadStats()):
            assert isinstance(item, HistoryPlay | Malformed)
            if isinstance(item, HistoryPlay):
                checked = checked_play(item)
                play = item if checked is None else checked
                if isinstance(play, HistoryPlay):
                    validate.check_time(play.started_at)
                    assert "\x00" not in play.title + play.artist
    except HistoryFormatError as exc:
        assert str(exc) and "\n" not in str(exc)


def _write(data: bytes, name: str = "history") -> Path:
    folder = Path(tempfile.mkdtemp(prefix="segue-fuzz-"))
    path = folder / name
    path.write_bytes(data)
    return path


def _item_field_names() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "ts",
            "ms_played",
            "master_metadata_track_name",
            "master_metadata_album_artist_name",
            "endTime",
            "msPlayed",
            "artistName",
            "trackName",
            "listened_at",
            "reason_end",
            "skipped",
            "shuffle",
            "episode_name",
        ]
    )


json_items = st.lists(
    st.one_of(
        st.dictionaries(_item_field_names(), json_values, max_size=8),
        st.fixed_dictionaries(
            {
                "listened_at": json_values,
                "track_metadata": st.dictionaries(
                    st.sampled_from(
                        ["artist_name", "track_name", "release_name", "additional_info"]
                    ),
                    json_values,
                    max_size=4,
                ),
            }
        ),
        json_values,
    ),
    max_size=8,
)


def _dumps(items: list) -> str:
    return json.dumps(items, allow_nan=True).replace("Infinity", "1e400")


@FUZZ
@given(items=json_items, fmt=st.sampled_from(["listenbrainz", "spotify-extended", "spotify-basic"]))
def test_json_readers_never_raise_unhandled(items, fmt):
    _consume(_write(_dumps(items).encode()), fmt)


@FUZZ
@given(items=json_items, lines=st.booleans())
def test_json_lines_and_auto_detection_never_raise_unhandled(items, lines):
    text = "\n".join(_dumps([i])[1:-1] for i in items) if lines else _dumps(items)
    _consume(_write(text.encode()), "auto")


cells = st.one_of(texts, numbers.map(str), st.sampled_from(["1e400", "99999999999999999999"]))
rows = st.lists(st.lists(cells, min_size=0, max_size=9), max_size=10)


@FUZZ
@given(rows=rows, header=st.booleans())
def test_lastfm_csv_never_raises_unhandled(rows, header):
    lines = ["uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid"] if header else []
    lines += [",".join('"' + c.replace('"', '""') + '"' for c in row) for row in rows]
    _consume(_write("\n".join(lines).encode("utf-8", "surrogatepass")), "lastfm-csv")


@FUZZ
@given(rows=rows, zone=st.sampled_from(["UTC", "UNKNOWN"]))
def test_scrobbler_log_never_raises_unhandled(rows, zone):
    lines = ["#AUDIOSCROBBLER/1.1", f"#TZ/{zone}"]
    lines += ["\t".join(c.replace("\t", " ").replace("\n", " ") for c in row) for row in rows]
    _consume(_write("\n".join(lines).encode("utf-8", "surrogatepass")), "scrobbler-log")


@FUZZ
@given(rows=rows)
def test_lastfm_1k_never_raises_unhandled(rows):
    lines = ["\t".join(c.replace("\t", " ").replace("\n", " ") for c in row) for row in rows]
    _consume(_write("\n".join(lines).encode("utf-8", "surrogatepass")), "lastfm-1k")


@FUZZ
@given(rows=rows)
def test_mssd_never_raises_unhandled(rows):
    header = (
        "session_id,session_position,session_length,track_id_clean,not_skipped,date,hour_of_day"
    )
    lines = [header] + [",".join('"' + c.replace('"', "") + '"' for c in row) for row in rows]
    _consume(_write("\n".join(lines).encode("utf-8", "surrogatepass")), "mssd")


PREFIXES = [b"", b"[", b"{", b"#AUDIOSCROBBLER/1.1\n", b"PK\x03\x04", b"uts,artist,track\n"]


@FUZZ
@given(data=st.binary(max_size=600), prefix=st.sampled_from(PREFIXES))
def test_any_bytes_in_any_format_never_raise_unhandled(data, prefix):
    path = _write(prefix + data)
    for fmt in ("auto", *FORMATS):
        _consume(path, fmt)


# -- the tag reader's value cleaning ------------------------------------------------------------

tag_inputs = st.one_of(
    st.none(), texts, numbers, st.binary(max_size=20), st.lists(scalars, max_size=5)
)


@FUZZ
@given(raw=st.lists(st.one_of(scalars, st.binary(max_size=10)), max_size=40))
def test_tag_values_are_capped_clean_text(raw):
    kept = tag_values.values(raw)
    assert len(kept) <= tag_values.MAX_VALUES
    assert all(
        isinstance(v, str) and v and "\x00" not in v and len(v) <= tag_values.MAX_TEXT for v in kept
    )
    first = tag_values.first(raw)
    assert first is None or first == kept[0]
    genres = tag_values.split_genres(raw)
    assert all(isinstance(g, str) and g and "\x00" not in g for g in genres)


@FUZZ
@given(value=tag_inputs)
def test_tag_numbers_are_sane_or_none(value):
    text = value if isinstance(value, str) else None
    number, total = tag_values.numbering(text)
    assert number is None or isinstance(number, int)
    assert total is None or isinstance(total, int)
    combined = tag_values.disc_track(text)
    assert combined is None or all(v is None or (isinstance(v, int) and v > 0) for v in combined)
    year = tag_values.year(text)
    assert year is None or isinstance(year, int)
    positive = tag_values.pos_int(value)
    assert positive is None or (isinstance(positive, int) and positive > 0)
    real = tag_values.float_or_none(text)
    assert real is None or isinstance(real, float)
    assert tag_values.cap(text) is None or "\x00" not in tag_values.cap(text)
