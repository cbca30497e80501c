"""Scan speed-ups keep the result: reading in-process or in a pool stores the same rows, and
the default worker count follows the idle cores."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import audio_fixtures
import pytest

from player_plugin.library import scanner
from player_plugin.library.scanner import others_running, pool_workers, scan
from player_plugin.library.tags import AUDIO_EXTENSIONS, is_audio_name
from player_plugin.store import open_db

audio_files = audio_fixtures.audio_files  # the session fixture

# assigned by the order results arrive, or by the clock: everything else must be equal
VARYING = ("id", "first_seen", "last_scanned")  # the order results arrive, the clock


def scanned_rows(db_path: Path) -> tuple[dict[bytes, dict], list[tuple]]:
    """The tracks (by path, without the columns that vary run to run) and scan errors
    stored at *db_path*; test_scan_process compares its child's scans with it too."""
    db = open_db(db_path)
    try:
        rows = {
            row["path"]: {k: v for k, v in row.items() if k not in VARYING}
            for row in db.query("SELECT * FROM tracks")
        }
        errors = sorted((r["path"], r["reason"]) for r in db.query("SELECT * FROM scan_errors"))
    finally:
        db.close()
    return rows, errors


@pytest.mark.parametrize(
    ("cpus", "load", "expected"),
    [(2, 0.2, 2), (2, 0.6, 0), (2, 13.0, 0), (1, 0.0, 0), (16, 3.0, 2), (4, 2.4, 2), (4, 2.6, 0)],
)
def test_a_pool_only_when_two_cores_are_idle(cpus, load, expected):
    assert pool_workers(cpus, load) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.64 1.72 1.68 1/78 18466\n", 0),
        ("3.10 2.00 1.00 4/310 99", 3),
        ("0.1 0.1 0.1", None),
        ("", None),
        ("a b c x/y z", None),
    ],
)
def test_what_runs_now_comes_from_proc_loadavg(text, expected):
    assert others_running(text) == expected


def test_this_process_own_runnable_threads_are_not_others():
    assert others_running("0.5 0.5 0.5 3/90 7", own=2) == 1
    assert others_running("0.5 0.5 0.5 2/90 7", own=3) == 0


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_in_process_and_pool_store_the_same_rows(audio_files, tmp_path, monkeypatch, method):
    music = tmp_path / "mÿsic — 音楽"
    music.mkdir()
    for i, source in enumerate(sorted(audio_files.values())):
        shutil.copy2(source, music / f"{i:02d} Ünïcode ♪ {source.name}")
    (music / "broken.mp3").write_bytes(b"\xff" * 10)
    (music / "empty.flac").write_bytes(b"")
    monkeypatch.setattr(scanner, "POOL_MIN_FILES", 1)  # a pool even for a few files
    monkeypatch.setattr(scanner, "start_method", lambda: method)

    alone = scan(open_db(tmp_path / "alone.db"), [music], workers=0)
    pooled = scan(open_db(tmp_path / "pool.db"), [music], workers=2)

    assert alone.as_json() | {"seconds": 0} == pooled.as_json() | {"seconds": 0}
    assert alone.added == len(audio_files) and alone.errors == 2
    rows, errors = scanned_rows(tmp_path / "alone.db")
    assert (rows, errors) == scanned_rows(tmp_path / "pool.db")
    assert len(rows) == len(audio_files) and len(errors) == 2
    assert all(row["match_key"] and row["signature"] and row["format"] for row in rows.values())


def test_audio_names_are_those_splitext_finds():
    """The fast extension check answers as ``os.path.splitext`` (what it replaced) does."""
    rng = random.Random(15)
    alphabet = [b".", b"/", b"a", b"M", b"3", b"p", b"mp3", b"FLAC", b"\xff", b" "]
    names = [b"".join(rng.choices(alphabet, k=rng.randint(0, 8))) for _ in range(20_000)]
    names += [b".mp3", b"..mp3", b"a.mp3", b".a.MP3", b"x/.mp3", b"x.y/z", b"a..flac", b"mp3"]
    names += [b"dir.mp3/", b"/music/01 Song.Opus", b"song.mp3.part", b"._song.mp3", b""]
    for name in names:
        expected = os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS
        assert is_audio_name(name) == expected, name
    assert sum(map(is_audio_name, names)) > 100  # the sample has both answers


# --- the per-file fast paths answer as the code they replaced ------------------------------


def _old_fold(text):
    """domain.normalize.fold before its ASCII fast path."""
    import re
    import unicodedata

    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text.replace("&", " and "))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[.'’`´]", "", text)
    return re.sub(r"[^\w]+", " ", text.casefold()).strip()


def _texts(count: int) -> list[str]:
    rng = random.Random(15)
    alphabet = (
        list("aZ 09.&'’`´-_/()[]\x00\t") + list("éÅßøÆñüİıﬁ①²ǅ한國語́̈́") + ["  ", "ft. ", "feat "]
    )
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 24))) for _ in range(count)]
    return [*texts, "", "AC/DC", "Sigur Rós", "Beyoncé & JAY-Z", "P.Y.T.", "ＡＢＣ", "e\u0301"]


def test_fold_and_match_key_are_unchanged():
    from player_plugin.domain.normalize import fold

    texts = _texts(20_000)
    assert sum(t.isascii() for t in texts) > 1000 and sum(not t.isascii() for t in texts) > 1000
    for text in texts:
        assert fold(text) == _old_fold(text), text


def test_first_is_the_first_of_values():
    from player_plugin.library import tag_values

    rng = random.Random(15)
    pool = ["", " ", "\x00", "a", " a ", "b\x00", "x" * 2000, 3, None, "é", "a"]
    for _ in range(5000):
        raw = rng.choice([None, [], tuple(rng.choices(pool, k=rng.randint(0, 5)))])
        for limit in (tag_values.MAX_TEXT, 64, 1):
            kept = tag_values.values(raw, limit)
            assert tag_values.first(raw, limit) == (kept[0] if kept else None), (raw, limit)


def test_list_columns_are_the_json_they_were():
    import json

    for value in (
        [],
        ["Björk"],
        [
            "坂本龍一",
            'a "b"',
            "\x00\n",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        ],
    ):
        assert scanner._to_json(value) == json.dumps(value, ensure_ascii=False)


START_METHOD = r"""
import sys, threading
from player_plugin.library.scanner import start_method
if sys.argv[1] == "qt":
    import PySide6.QtCore
elif sys.argv[1] == "thread":
    stop = threading.Event()
    threading.Thread(target=stop.wait).start()
print(start_method())
if sys.argv[1] == "thread":
    stop.set()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork only on Linux")
@pytest.mark.parametrize(
    ("process", "expected"), [("plain", "fork"), ("qt", "spawn"), ("thread", "spawn")]
)
def test_the_pool_forks_only_a_process_with_one_thread_and_no_qt(process, expected):
    out = subprocess.run(
        [sys.executable, "-c", START_METHOD, process], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected
