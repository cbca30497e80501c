"""A block that this user's processes on this machine run one after another.

The analysis workers warm librosa up as they start, and on a first run that compiles
numba's cached functions into librosa's ``__pycache__``: two workers starting together
wrote that cache at the same moment and once left an index that names the wrong compiled
code, so every later analysis, in every process, died of a segmentation fault. Holding a
lock file while warming up lets the first worker compile and write, and the next only
load what it wrote.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock
    fcntl = None  # type: ignore[assignment]


def lock_path(name: str) -> str:
    """The lock file for *name* (in the temp folder, one per user)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"segue-{uid}-{name}.lock")


@contextmanager
def one_at_a_time(name: str) -> Iterator[None]:
    """Run the block while holding the lock *name*; without a lock where none can be had
    (no ``fcntl``, an unwritable temp folder): the block still runs."""
    if fcntl is None:
        yield
        return
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
