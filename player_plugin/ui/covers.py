"""Cover art for a track: the image embedded in its tags, else a cover file beside it."""

from __future__ import annotations

import logging
import os

from player_plugin.library.tags import read_cover

log = logging.getLogger(__name__)

FOLDER_COVERS = (b"cover.jpg", b"cover.png", b"folder.jpg", b"folder.png", b"front.jpg")
MAX_COVER_BYTES = 20 * 1024 * 1024


def cover_bytes(path: bytes) -> bytes | None:
    """The embedded cover (``library.tags.read_cover``) or a folder image; None if neither."""
    try:
        data = read_cover(path)
    except Exception:
        log.debug("no readable cover in %r", path, exc_info=True)
        data = None
    if data:
        return data
    folder = os.path.dirname(path)
    for name in FOLDER_COVERS:
        candidate = os.path.join(folder, name)
        try:
            if os.path.getsize(candidate) <= MAX_COVER_BYTES:
                with open(candidate, "rb") as handle:
                    return handle.read()
        except OSError:
            continue
    return None
