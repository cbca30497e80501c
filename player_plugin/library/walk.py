"""Walking music folders on bytes paths: each audio file once, whatever its name's encoding.

``os.scandir`` on bytes keeps non-UTF-8 names intact. Folders are remembered by (device,
inode), so symlink loops, the same folder given twice and nested roots are walked once;
files likewise, so a hard or symbolic link does not make a second track. Unreadable folders
and broken links become errors, and the walk goes on.
"""

from __future__ import annotations

import logging
import operator
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from player_plugin.domain.paths import PathLike, display, to_bytes
from player_plugin.library.tags import is_audio_name

log = logging.getLogger(__name__)

_NAME = operator.attrgetter("name")


@dataclass(slots=True)  # (not frozen: a frozen one took twice as long to make, per file)
class FoundFile:
    path: bytes
    size: int
    mtime_ns: int


def normalise_roots(roots: Iterable[PathLike]) -> list[bytes]:
    """Absolute, normalised byte paths, each once, in the order given."""
    out: list[bytes] = []
    for root in roots:
        path = os.path.normpath(os.path.abspath(to_bytes(root)))
        if path not in out:
            out.append(path)
    return out


def is_under(path: bytes, folder: bytes) -> bool:
    """Whether *path* is *folder* or inside it (both normalised, absolute)."""
    if path == folder:
        return True
    prefix = folder if folder.endswith(b"/") else folder + b"/"
    return path.startswith(prefix)


@dataclass
class Walk:
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
                        entries = sorted(it, key=_NAME)
                except OSError as exc:
                    self._fail(folder, f"cannot read folder: {exc.strerror or exc}")
                    continue
                subdirs: list[bytes] = []
                for entry in entries:
                    # the common case inline (an audio file, no link, first seen): once per
                    # file of every rescan; anything else, or any error, goes to _entry,
                    # which decides it from the start
                    item = None
                    name = entry.name
                    try:
                        if (
                            not entry.is_dir()
                            and is_audio_name(name)
                            and not name.startswith(b"._")
                            and entry.is_file()
                        ):
                            st = entry.stat()
                            key = (st.st_dev, st.st_ino)
                            if key not in seen_files:
                                seen_files.add(key)
                                item = FoundFile(entry.path, st.st_size, st.st_mtime_ns)
                        else:
                            item = self._entry(entry, seen_dirs, seen_files, subdirs)
                    except OSError:
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
