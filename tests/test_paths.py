"""Bytes paths: non-UTF-8 names round-trip and can still be opened."""

from __future__ import annotations

import base64
import os

from player_plugin.domain import paths


def test_non_utf8_name_round_trips(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.mp3"
    with open(raw, "wb") as handle:
        handle.write(b"x")
    info = paths.json_fields(raw)
    assert "\ufffd" in info["path"]
    assert base64.b64decode(info["path_b64"]) == raw
    assert paths.to_path(raw).read_bytes() == b"x"
    assert paths.from_user("b64:" + info["path_b64"]) == raw


def test_utf8_name_has_no_b64():
    assert "path_b64" not in paths.json_fields("/music/Björk/Jóga.flac")
