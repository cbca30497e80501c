"""One Segue process logs a given player into a given database: a lock file per pair.

Two processes observing one player (``segue listen`` and ``segue companion``, or two
listens) would write every play twice. The lock is an advisory ``flock`` on a small file
beside the database, named after the player; the kernel drops it when the process dies,
so a crash never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from player_plugin.domain.errors import SegueError


class PlayerLocked(SegueError):
    """Another process already logs this player into this database."""


class PlayerLock:
    """Hold with :meth:`acquire` (raises :class:`PlayerLocked`), free with :meth:`release`."""

    def __init__(self, db_path: str | os.PathLike, player: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", player)[:80]
        self.player = player
        self.path = Path(f"{os.fspath(db_path)}.{safe}.lock")
        self._fd: int | None = None

    def acquire(self) -> PlayerLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise PlayerLocked(
                f"another Segue process (pid {holder}) is already logging {self.player} "
                "into this database"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
