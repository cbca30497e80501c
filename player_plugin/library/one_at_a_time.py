"""A block that this user's processes on this machine run one after another.

Used where processes would otherwise write one cache at once: the audio analysis warms
librosa up under it (:func:`player_plugin.library.analysis.warm_up`), so the first process
compiles numba's functions into their cache and the next only loads what it wrote.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def lock_path(name: str) -> str:
    """The lock file for *name* (in the temp folder, one per user)."""
    return os.path.join(tempfile.gettempdir(), f"segue-{os.getuid()}-{name}.lock")


@contextmanager
def one_at_a_time(name: str) -> Iterator[None]:
    """Run the block while holding the lock *name*; where the lock file cannot be made
    (an unwritable temp folder) the block runs without it."""
    try:
        fd = os.open(lock_path(name), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
