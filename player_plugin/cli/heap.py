"""One heap arena for a long-running Segue process (the player, `listen`, `companion`).

glibc's malloc gives each new thread that allocates an arena of its own (up to eight per
core) and keeps the memory freed in it: the player's worker threads
(suggestions, the library table) grew their own, and its resident memory climbed by about
12 MB over its first hundred suggestions and stayed there. With one arena the player's
peak at 100,000 tracks after 300 suggestions is 279 MB instead of 290 (12 runs each,
alternated; the time from a play to its suggestions did not move: medians 30.3 and 29.3 ms,
within the runs' spread of 25–33 ms). Call it before the process starts its threads;
elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def one_arena() -> bool:
    """Limit malloc to one arena (glibc only); whether it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a libc without mallopt (musl)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_ARENA_MAX, 1))
