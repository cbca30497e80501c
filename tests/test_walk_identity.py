"""The walk's inline fast path (and the cheaper FoundFile) find exactly what the walk
before them found, in the same order, with the same errors: odd trees included (links,
loops, hard links, broken links, a FIFO, AppleDouble files, non-UTF-8 names, an unreadable
folder, nested and repeated roots). OldWalk is the walk before the change, kept here as the
reference."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from player_plugin.domain.paths import display
from player_plugin.library.tags import is_audio_name
from player_plugin.library.walk import FoundFile, Walk

log = logging.getLogger(__name__)


@dataclass
class OldWalk:
    """One pass over *roots*; iterate :meth:`files`, then read :attr:`errors`.

    ``errors`` holds (path, reason) for folders that could not be read and files that are
    not regular; ``failed_dirs`` the folders whose contents are unknown (their tracks must
    not be taken for vanished). ``complete`` is False when the walk was cancelled.
    """

    roots: list[bytes]
    cancel: threading.Event | None = None
    on_folder: Callable[[bytes, int], None] | None = None
    errors: list[tuple[bytes, str]] = field(default_factory=list)
    failed_dirs: list[bytes] = field(default_factory=list)
    complete: bool = False

    def files(self) -> Iterator[FoundFile]:
        seen_dirs: set[tuple[int, int]] = set()
        seen_files: set[tuple[int, int]] = set()
        found = 0
        for root in self.roots:
            try:
                st = os.stat(root)
            except OSError as exc:
                self._fail(root, f"cannot open: {exc.strerror or exc}")
                continue
            if stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if is_audio_name(os.path.basename(root)) and key not in seen_files:
                    seen_files.add(key)
                    found += 1
                    yield FoundFile(root, st.st_size, st.st_mtime_ns)
                continue
            if not stat.S_ISDIR(st.st_mode):
                self._fail(root, "not a folder or a regular file")
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            stack = [root]
            while stack:
                if self.cancel is not None and self.cancel.is_set():
                    return
                folder = stack.pop()
                if self.on_folder is not None:
                    self.on_folder(folder, found)
                try:
                    with os.scandir(folder) as it:
                        entries = sorted(it, key=lambda e: e.name)
                except OSError as exc:
                    self._fail(folder, f"cannot read folder: {exc.strerror or exc}")
                    continue
                subdirs: list[bytes] = []
                for entry in entries:
                    item = self._entry(entry, seen_dirs, seen_files, subdirs)
                    if item is not None:
                        found += 1
                        yield item
                stack.extend(reversed(subdirs))
        self.complete = True

    def _entry(
        self,
        entry: os.DirEntry,
        seen_dirs: set[tuple[int, int]],
        seen_files: set[tuple[int, int]],
        subdirs: list[bytes],
    ) -> FoundFile | None:
        """The audio file *entry* is, or None (a folder goes to *subdirs*). Not a generator:
        one per directory entry cost a fifth of a no-change rescan."""
        name = entry.name
        try:
            if entry.is_dir():  # follows symlinks; a loop is caught by the inode set
                st = entry.stat()
                key = (st.st_dev, st.st_ino)
                if key in seen_dirs:
                    log.info("already walked, skipped: %s", display(entry.path))
                    return None
                seen_dirs.add(key)
                subdirs.append(entry.path)
                return None
            if not is_audio_name(name) or name.startswith(b"._"):  # ._x: macOS AppleDouble
                return None
            if entry.is_file():
                st = entry.stat()
                key = (st.st_dev, st.st_ino)
                if key not in seen_files:
                    seen_files.add(key)
                    return FoundFile(entry.path, st.st_size, st.st_mtime_ns)
            elif entry.is_symlink():
                self.errors.append((entry.path, "broken symbolic link (or a link loop)"))
            else:
                self.errors.append((entry.path, "not a regular file"))
        except OSError as exc:
            self.errors.append((entry.path, f"cannot stat: {exc.strerror or exc}"))
        return None

    def _fail(self, folder: bytes, reason: str) -> None:
        log.warning("%s: %s", display(folder), reason)
        self.errors.append((folder, reason))
        self.failed_dirs.append(folder)


def odd_tree(root) -> list[bytes]:
    base = os.fsencode(root)
    music = base + b"/music"
    for folder in (b"/a", b"/a/sub", b"/b", b"/caf\xe9", b"/locked", b"/empty"):
        os.makedirs(music + folder, exist_ok=True)
    for name in (
        b"/a/01 one.mp3",
        b"/a/02 two.FLAC",
        b"/a/notes.txt",
        b"/a/._01 one.mp3",
        b"/a/..mp3",
        b"/a/.hidden.ogg",
        b"/a/sub/x.m4a",
        b"/b/y.opus",
        b"/caf\xe9/\xff\xfe.mp3",
        b"/locked/z.mp3",
    ):
        with open(music + name, "wb") as f:
            f.write(name)
    os.link(music + b"/a/01 one.mp3", music + b"/b/hard.mp3")
    os.symlink(music + b"/a/02 two.FLAC", music + b"/b/soft.flac")
    os.symlink(music + b"/gone.mp3", music + b"/b/broken.mp3")
    os.symlink(music, music + b"/a/sub/loop")
    os.mkfifo(music + b"/b/pipe.mp3")
    os.chmod(music + b"/locked", 0)
    return [music, music + b"/a", music + b"/b/y.opus", music + b"/nothing", music]


def found(walk) -> tuple:
    files = [(f.path, f.size, f.mtime_ns) for f in walk.files()]
    return files, walk.errors, walk.failed_dirs, walk.complete


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder without permission")
def test_the_walk_finds_what_it_found_before_even_unreadable(tmp_path):
    roots = odd_tree(tmp_path)
    try:
        assert found(Walk(roots)) == found(OldWalk(roots))
    finally:
        os.chmod(roots[0] + b"/locked", 0o755)


def test_the_walk_finds_what_it_found_before(tmp_path):
    roots = odd_tree(tmp_path)
    os.chmod(roots[0] + b"/locked", 0o755)
    new, old = found(Walk(roots)), found(OldWalk(roots))
    assert new == old
    assert len(new[0]) >= 6 and new[1]  # files and errors both present
    for root in roots:
        assert found(Walk([root])) == found(OldWalk([root]))
    walk = Walk([roots[0]])
    assert all(isinstance(f, FoundFile) for f in walk.files())


def test_a_cancelled_walk_stops_as_before(tmp_path):
    roots = odd_tree(tmp_path)
    os.chmod(roots[0] + b"/locked", 0o755)
    cancel = threading.Event()
    cancel.set()
    assert found(Walk(roots, cancel=cancel)) == found(OldWalk(roots, cancel=cancel))
