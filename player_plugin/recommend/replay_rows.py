"""The history's three sparse tables for a whole replay, built at once from the plays.

A served history replays every play once (a start without the saved state), and most of
that replay was the sparse tables' dict operations: at a million plays, forty million
co-occurrence additions. The same tables come from the plays' columns in a few array
passes. Every addition the replay makes is one int64 *emission*: its row and column (the
played tracks numbered densely) above its place in the replay's order. Sorted, each
weight's additions follow one another in the replay's order, and are summed in it
(``np.add.at``, one after another from 0.0, as ``row.get(key, 0.0) + w`` did); a row's
columns are put in the order they were first written, the rows in the order they were
first touched. The rows are made a few million emissions at a time (a group of tracks'
rows, from those tracks' plays), which bounds the memory the sort needs; an emission holds
its row's place in its group, and a group holds as many tracks as leave it 63 bits.

The weights are the same bits, the rows the same keys in the same order as
``HistoryState.observe`` followed by ``SparseRows.pack`` give (tests/test_replay_rows.py).
They are computed from an emission's place (its play, how far back, which side) as the
replay computes them, so no float travels with the sort.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from itertools import pairwise

import numpy as np

from player_plugin.recommend.sparse_rows import SparseRows

__all__ = ["replay_tables", "session_positions"]

_GROUP = 1 << 21  # emissions sorted at a time (16 MB; more only for one track's row)
_KEY_BITS = 63  # an emission's bits: its row in its group, its column, its place


def session_positions(starts: np.ndarray, gap_ms: int) -> np.ndarray:
    """int64: each play's place in its listening session (0 for the first play), a new
    session starting after a gap longer than *gap_ms*."""
    return _sessions(starts, gap_ms)[0]


def _sessions(starts: np.ndarray, gap_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Each play's place in its session and how many plays follow it there."""
    n = len(starts)
    new = np.ones(n, dtype=bool)
    new[1:] = np.diff(starts) > gap_ms
    first = np.flatnonzero(new)
    length = np.diff(np.append(first, n))
    pos = np.arange(n) - np.repeat(first, length)
    return pos, np.repeat(length, length) - 1 - pos


def replay_tables(
    items: np.ndarray,
    starts: np.ndarray,
    t0: float | None,
    *,
    window: int,
    span: int,
    tau_ms: float,
    gap_ms: int,
) -> tuple[SparseRows, SparseRows, SparseRows] | None:
    """The transition, window and co-occurrence tables, packed, that replaying the plays
    (*items*, *starts*: the history's columns, oldest first) from an empty history writes;
    *t0* the co-occurrence's time origin the replay set. None when an emission would not
    fit in 63 bits even in a group of one row (the caller replays then)."""
    items = np.asarray(items, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ids, dense = np.unique(items, return_inverse=True)
    n, u = len(items), len(ids)
    bits = (2 * span).bit_length()  # a play's places in the co-occurrence order: 0 … 2 span
    shift = max(1, n.bit_length() + bits)
    group_rows = (1 << max(_KEY_BITS - shift, 0)) // max(u, 1)  # a group's tracks, at most
    if u and group_rows < 1:
        return None
    pos, rest = _sessions(starts, gap_ms)
    tables = _Tables(ids, dense, pos, rest, shift, group_rows)
    trans = tables.build(1, 0, lambda o: np.ones(len(o)), pairs_of_self=True)
    wbits = (window - 1).bit_length()
    win = tables.build(window, wbits, lambda o: 1.0 / ((o & ((1 << wbits) - 1)) + 1))
    scale = np.zeros(n)
    later = np.flatnonzero(pos >= 1)
    if len(later):
        assert t0 is not None
        scale[later] = [math.exp((t - t0) / tau_ms) for t in starts[later].tolist()]
    halves = np.stack([0.5 * scale, scale], axis=1).ravel()  # a play's (0.5 scale, scale)

    def cooc_weight(o: np.ndarray) -> np.ndarray:
        # place 2b - 1: the play came b after the row's (scale / b); 2b: b before the
        # play's own row's column (0.5 scale / (b + 1)) — the replay's arithmetic
        place = o & ((1 << bits) - 1)
        after = place & 1
        return halves[((o >> bits) << 1) | after] / (((place + 1) >> 1) + 1 - after)

    cooc = tables.build(span, bits, cooc_weight, both_sides=True, touch_own=True)
    return trans, win, cooc


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """*parts* in one array, the list emptied (its arrays freed before the next's join)."""
    out = np.concatenate(parts)
    parts.clear()
    return out


class _Tables:
    """What the three tables' emissions share: the plays numbered densely, their places
    in their sessions and how many follow them there."""

    def __init__(
        self,
        ids: np.ndarray,
        dense: np.ndarray,
        pos: np.ndarray,
        rest: np.ndarray,
        shift: int,
        group_rows: int,
    ):
        self.ids, self.dense, self.pos, self.rest, self.shift = ids, dense, pos, rest, shift
        self.u, self.group_rows = len(ids), group_rows
        self.by_track = np.argsort(dense, kind="stable")  # the plays, a track's together
        self.tracks_in_order = dense[self.by_track]  # their tracks, ascending

    def build(
        self,
        backs: int,
        bits: int,
        weight: Callable[[np.ndarray], np.ndarray],
        *,
        pairs_of_self: bool = False,
        both_sides: bool = False,
        touch_own: bool = False,
    ) -> SparseRows:
        """One table: each play adds to the rows of the plays 1 … *backs* before it in its
        session (the column: the play's track) — a track's pair with itself too when
        *pairs_of_self* — and, with *both_sides*, to its own row (the column: the earlier
        track) right after each; *touch_own* makes its own row before them (the replay
        makes it even when it writes nothing to it). An emission's place in the order is
        its play above *bits* of its place among the play's; *weight*: the weights of
        emissions' places."""
        # each weight's first emission (see _emit) and sum, its group's first track
        heads, sums, firsts = [np.zeros(0, np.int64)], [np.zeros(0)], [0]
        for first, group in self._groups(backs, both_sides):
            head, summed = self._summed(
                self._emit(group, first, backs, bits, pairs_of_self, both_sides), weight
            )
            heads.append(head)
            sums.append(summed)
            firsts.append(first)
        touched = None
        if touch_own:
            plays = np.flatnonzero(self.pos >= 1)
            touched = (self.dense[plays], plays << bits)
        ends = np.cumsum([len(head) for head in heads]).tolist()
        head, summed = _joined(heads), _joined(sums)
        return self._rows(head, summed, zip(firsts, [0, *ends][:-1], ends, strict=True), touched)

    def _groups(self, backs: int, both_sides: bool) -> list[tuple[int, np.ndarray]]:
        """Groups of tracks, in the tracks' order — each its first track and the plays of
        its tracks — each writing at most about _GROUP emissions to its tracks' rows, and
        of at most ``group_rows`` tracks (an emission holds its row's place in the group)."""
        most = np.minimum(self.rest, backs)  # a play's emissions to its own track's row
        if both_sides:
            most += np.minimum(self.pos, backs)
        per_track = np.cumsum(np.bincount(self.dense, weights=most, minlength=self.u))
        cuts = np.searchsorted(per_track, np.arange(_GROUP, per_track[-1:].sum(), _GROUP))
        bounds = np.unique(np.concatenate([[0], cuts + 1, [self.u]])).tolist()
        firsts = [t for a, b in pairwise(bounds) for t in range(a, b, self.group_rows)]
        ends = np.searchsorted(self.tracks_in_order, [*firsts, self.u])
        return [
            (first, self.by_track[a:b])
            for first, a, b in zip(firsts, ends[:-1], ends[1:], strict=True)
        ]

    def _emit(
        self,
        plays: np.ndarray,
        first: int,
        backs: int,
        bits: int,
        pairs_of_self: bool,
        both_sides: bool,
    ) -> np.ndarray:
        """The sorted emissions to the rows of the tracks of *plays* (the first of them:
        *first*): as the earlier play of a pair (the column: the play *back* after), and
        with *both_sides* as the later one (the column: the play *back* before)."""
        dense, pos, rest, u, shift = self.dense, self.pos, self.rest, self.u, self.shift
        room = int(np.minimum(rest[plays], backs).sum())
        if both_sides:
            room += int(np.minimum(pos[plays], backs).sum())
        out = np.empty(room, dtype=np.int64)
        filled = 0
        earlier, later = plays, plays
        for back in range(1, backs + 1):
            earlier = earlier[rest[earlier] >= back]
            row, col, at = dense[earlier], dense[earlier + back], earlier + back
            place = 2 * back - 1 if both_sides else back - 1
            parts = [(row, col, at, place)]
            if both_sides:
                later = later[pos[later] >= back]
                parts.append((dense[later], dense[later - back], later, 2 * back))
            for row, col, at, place in parts:
                keep = slice(None) if pairs_of_self else row != col
                cell = (row[keep] - first) * u + col[keep]
                part = (cell << shift) | ((at[keep] << bits) + place)
                out[filled : filled + len(part)] = part
                filled += len(part)
        out = out[:filled]
        out.sort()
        return out

    def _summed(
        self, emitted: np.ndarray, weight: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each weight's first emission (its cell, where it was made) and its sum: the
        sort put a weight's emissions together, in the replay's order."""
        cell = emitted >> self.shift
        new = np.ones(len(cell), dtype=bool)
        new[1:] = cell[1:] != cell[:-1]
        at = np.cumsum(new) - 1
        sums = np.zeros(int(at[-1]) + 1 if len(at) else 0)
        np.add.at(sums, at, weight(emitted & ((1 << self.shift) - 1)))
        return emitted[new], sums

    def _rows(
        self,
        head: np.ndarray,
        sums: np.ndarray,
        groups: Iterable[tuple[int, int, int]],
        touched: tuple[np.ndarray, np.ndarray] | None,
    ) -> SparseRows:
        """The table of the weights *sums* first emitted as *head* (*groups*: each group's
        first track and its weights' span): the rows in the order first touched (a weight
        written, or the row made: *touched*), a row's columns in the order first written."""
        shift, u = self.shift, self.u
        place = head & ((1 << shift) - 1)
        row, column = np.divmod(head >> shift, u)  # the row's place in its group
        for first, a, b in groups:
            row[a:b] += first
        first_touch = np.full(u, np.iinfo(np.int64).max)
        np.minimum.at(first_touch, row, place)
        if touched is not None:
            np.minimum.at(first_touch, *touched)
        rows = np.flatnonzero(first_touch < np.iinfo(np.int64).max)
        rows = rows[np.argsort(first_touch[rows])]
        rank = np.empty(u, dtype=np.int64)
        rank[rows] = np.arange(len(rows))
        row = rank[row]  # below u: (u - 1).bit_length() + shift ≤ 63 bits, as a group of one
        key = row << shift
        key |= place
        del place
        order = np.argsort(key)
        del key
        sizes = np.bincount(row, minlength=len(rows))
        del row
        columns = self.ids[column[order]]
        del column
        return SparseRows.from_flat(self.ids[rows].tolist(), sizes, columns, sums[order])
