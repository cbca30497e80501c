"""Training examples built in two chunks at once: the later one in a forked process.

Building the examples (:func:`training.data.build_examples`, one pass over the history in
Python) was 60% of a training run on a 42.7k-play history. A run of targets needs only the
history state before its first target, and observing plays is cheap next to building
examples, so the targets are cut into consecutive chunks, each built from the plays up to
its end (``first_target``) with a seed of its own. Where the chunks are cut depends only on
the number of plays, never on the machine: the examples are the same whether the chunks
run side by side (Linux, more than one CPU) or one after the other.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

import numpy as np

from player_plugin.domain.catalogue import Catalogue
from player_plugin.domain.play import Play
from training.config import Config
from training.data import Cancelled, Examples, build_examples

log = logging.getLogger(__name__)

CHUNKS = 2
MIN_PLAYS = 4000  # fewer plays: one chunk (a second process would cost more than it saves)
SEED_STRIDE = 1_000_003  # chunk k draws its negatives from seed + k * SEED_STRIDE
PR_SET_PDEATHSIG = 1
POLL_S = 0.2


def chunk_starts(n_plays: int, first: int = 1) -> list[int]:
    """The first target of each chunk, then *n_plays* (the end of the last): the targets
    from play *first* on (the plays before it only build the history they start from)."""
    first = max(1, min(first, n_plays))
    if n_plays - first + 1 < MIN_PLAYS:
        return [first, n_plays]
    cuts = [first + (n_plays - first) * k // CHUNKS for k in range(CHUNKS)]
    return [*cuts, n_plays]


def first_target(n_plays: int, max_targets: int) -> int:
    """The first play that is a target when at most *max_targets* of *n_plays* are (the
    newest; 0: every play but the first, which has no history before it)."""
    return max(1, n_plays - max_targets) if max_targets > 0 else 1


def chunk_seed(seed: int, index: int) -> int:
    return seed + index * SEED_STRIDE


FIELDS = tuple(Examples.__dataclass_fields__)
Header = list[tuple[str, tuple[int, ...]]]  # a chunk's arrays: dtype and shape, in FIELDS order


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


def _worker(conn: Connection, plays: Sequence[Play], catalogue: Catalogue, kw: dict) -> None:
    """A forked child: build one chunk and send it back (or the error, as text)."""
    # The trainer's handlers (SIGTERM cancels it) came along with the fork: here a signal
    # must end the child, or the parent's terminate() and join() would wait for a child
    # that only set a cancel flag it never reads (a test run hung so).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # die with the trainer (the parent-death signal is not inherited across fork)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        examples = build_examples(plays, catalogue, **kw)
    except Exception as exc:  # sent to the parent, which raises it there
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    else:
        arrays = [getattr(examples, name) for name in FIELDS]
        conn.send(("ok", [(a.dtype.str, a.shape) for a in arrays]))
        for a in arrays:
            conn.send_bytes(_raw(a).data)
    finally:
        conn.close()


def _raw(a: np.ndarray) -> np.ndarray:
    """*a*'s bytes as a flat uint8 array (a view where *a* is contiguous)."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def _header(
    proc: mp.process.BaseProcess, conn: Connection, cancel: threading.Event | None
) -> Header:
    """Wait for a child's chunk: its arrays' dtypes and shapes (their bytes follow)."""
    while not conn.poll(POLL_S):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if not proc.is_alive() and not conn.poll(0):
            raise RuntimeError(f"building examples failed (exit {proc.exitcode})")
    try:
        status, value = conn.recv()
    except EOFError:
        raise RuntimeError("building examples failed (no result)") from None
    if status != "ok":
        raise RuntimeError(f"building examples failed: {value}")
    return value


def _joined(
    full: Examples,
    at: int,
    children: Sequence[Connection],
    headers: Sequence[Header],
) -> Examples:
    """The children's chunks received into *full* after its first *at* examples (this
    process's chunk, written there as it was made), in order: each child's bytes straight
    into their place — no pickled copy, no join of the chunks after (0.45 + 0.3 s of the
    trainer's wait and a copy of every example on a 42.7k-play history)."""
    total = at + sum(header[0][1][0] for header in headers)
    if total > len(full):
        raise RuntimeError(f"building examples failed: {total} examples, room for {len(full)}")
    for conn, header in zip(children, headers, strict=True):
        n = header[0][1][0]
        for name, (dtype, shape) in zip(FIELDS, header, strict=True):
            out = getattr(full, name)
            if np.dtype(dtype) != out.dtype or tuple(shape) != (n, *out.shape[1:]):
                raise RuntimeError(f"building examples failed: a chunk of {dtype}{shape}")
            place = _raw(out[at : at + n])
            try:
                received = conn.recv_bytes_into(place.data)
            except EOFError:
                raise RuntimeError("building examples failed (cut short)") from None
            if received != place.nbytes:
                raise RuntimeError("building examples failed (cut short)")
        at += n
    return full.head(total)


def _received(
    full: Examples,
    at: int,
    children: Sequence[tuple[mp.process.BaseProcess, Connection]],
    cancel: threading.Event | None,
) -> Examples:
    """*full* with the children's chunks after its first *at* examples, as they come."""
    headers = [_header(proc, conn, cancel) for proc, conn in children]
    return _joined(full, at, [conn for _, conn in children], headers)


def build_chunked(
    plays: Sequence[Play],
    catalogue: Catalogue,
    *,
    seed: int,
    first: int = 1,
    cancel: threading.Event | None = None,
    parallel: bool = True,
    while_waiting: Callable[[], None] | None = None,
    **kw,
) -> Examples:
    """:func:`build_examples` over every target from play *first* on, cut into chunks (see
    the module text); with *parallel* the later chunks are built in forked processes
    where possible.
    *while_waiting* runs once: when this process has built its chunk, before it waits for
    the others' (the later chunks take longer: time otherwise spent idle), or after the
    last chunk when all are built here."""
    starts = chunk_starts(len(plays), first)
    jobs = [
        (plays[:end], {"first_target": start, "seed": chunk_seed(seed, k), **kw})
        for k, (start, end) in enumerate(itertools.pairwise(starts))
    ]
    # room for every play that may be a target, each chunk's examples written after the
    # ones before (its pages take memory only as they are written)
    full = Examples.empty(max(0, len(plays) - starts[0]), kw["negatives"] + 1)
    if len(jobs) == 1 or not parallel or not _can_fork():
        at = 0
        for job_plays, args in jobs:
            part = build_examples(job_plays, catalogue, cancel=cancel, into=full.after(at), **args)
            at += len(part)
        if while_waiting is not None:
            while_waiting()
        return full.head(at)
    ctx = mp.get_context("fork")
    children: list[tuple[mp.process.BaseProcess, Connection]] = []
    receiving: ThreadPoolExecutor | None = None
    proc: mp.process.BaseProcess
    try:
        for job_plays, args in jobs[1:]:
            here, there = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(there, job_plays, catalogue, args))
            proc.daemon = True
            proc.start()
            there.close()
            children.append((proc, here))
        first_plays, first_args = jobs[0]
        own = build_examples(first_plays, catalogue, cancel=cancel, into=full, **first_args)
        # the children's chunks received on a thread while *while_waiting* runs (the
        # bytes arrive in system calls that let it go on: 0.7 s of the wait, measured)
        receiving = ThreadPoolExecutor(1, thread_name_prefix="examples")
        received = receiving.submit(_received, full, len(own), children, cancel)
        if while_waiting is not None:
            while_waiting()
        return received.result()
    finally:
        for proc, _ in children:
            if proc.is_alive():
                proc.kill()  # its work is not wanted; SIGKILL cannot be caught or delayed
        if receiving is not None:
            receiving.shutdown(wait=True)  # (a killed child's pipe ends its wait)
        for proc, conn in children:
            conn.close()
            proc.join()


def training_examples(
    plays: Sequence[Play],
    catalogue: Catalogue,
    cfg: Config,
    *,
    blind: bool = False,
    cancel: threading.Event | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> Examples:
    """The examples a training with *cfg* learns from (a skip-blind model's: *blind*):
    one for each of the newest ``cfg.max_targets`` plays that is a target."""
    return build_chunked(
        plays,
        catalogue,
        first=first_target(len(plays), cfg.max_targets),
        blind=blind,
        negatives=cfg.negatives,
        seed=cfg.seed,
        hard_share=cfg.hard_share,
        other_weight=0.0 if blind else cfg.other_weight,
        new_weight=cfg.new_weight,
        cancel=cancel,
        while_waiting=while_waiting,
    )
