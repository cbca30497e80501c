"""The plays a :class:`~player_plugin.recommend.features.HistoryState` has observed, kept as
four flat columns: each play's track, start (ms), how it ended (a ``HistoryCode`` as a plain
int) and whether it was the track's first play.

Read like the list of ``(item, start, code, first)`` tuples it replaces — ``plays[-1]``, a
slice, ``len``, iteration — but 18 bytes a play instead of ≈ 150 (a tuple and its ints): a
million plays' history held 203 MB of tuples, and unpacked them one by one on every warm
start."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import overload

import numpy as np

__all__ = ["HistoryPlays", "PlayRow"]

PlayRow = tuple[int, int, int, bool]  # item, start (ms), code, first


class HistoryPlays:
    """A growing list of :data:`PlayRow`, stored as columns."""

    __slots__ = ("codes", "firsts", "items", "starts")

    def __init__(self) -> None:
        self.items = array("q")
        self.starts = array("q")
        self.codes = array("b")
        self.firsts = array("b")

    @classmethod
    def from_columns(
        cls, items: np.ndarray, starts: np.ndarray, codes: np.ndarray, firsts: np.ndarray
    ) -> HistoryPlays:
        """The plays whose columns :meth:`columns` gave (ValueError when they differ in
        length)."""
        if not len(items) == len(starts) == len(codes) == len(firsts):
            raise ValueError("play columns of different lengths")
        out = cls()
        for column, values, dtype in (
            (out.items, items, np.int64),
            (out.starts, starts, np.int64),
            (out.codes, codes, np.int8),
            (out.firsts, firsts, np.int8),
        ):
            column.frombytes(np.ascontiguousarray(values, dtype=dtype).tobytes())
        return out

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the four columns: int64 items and starts, int8 codes and firsts —
        each column sliced (copied holding the GIL) before numpy reads it: a buffer lent to
        numpy while it copied without the GIL would make an append meanwhile fail (the
        warm-start save reads a served history without its lock)."""
        return (
            np.frombuffer(self.items[:], dtype=np.int64),
            np.frombuffer(self.starts[:], dtype=np.int64),
            np.frombuffer(self.codes[:], dtype=np.int8),
            np.frombuffer(self.firsts[:], dtype=np.int8),
        )

    def rows(self) -> np.ndarray:
        """int64[len, 3]: every play as (item, start, code)."""
        out = np.empty((len(self.items), 3), dtype=np.int64)
        if len(self.items):
            out[:, 0] = np.frombuffer(self.items, dtype=np.int64)
            out[:, 1] = np.frombuffer(self.starts, dtype=np.int64)
            out[:, 2] = np.frombuffer(self.codes, dtype=np.int8)
        return out

    def append(self, row: PlayRow) -> None:
        item, start, code, first = row
        self.items.append(item)
        self.starts.append(start)
        self.codes.append(code)
        self.firsts.append(first)

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> PlayRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[PlayRow]: ...
    def __getitem__(self, index: int | slice) -> PlayRow | list[PlayRow]:
        if isinstance(index, slice):
            return list(
                zip(
                    self.items[index],
                    self.starts[index],
                    self.codes[index],
                    map(bool, self.firsts[index]),
                    strict=True,
                )
            )
        return (self.items[index], self.starts[index], self.codes[index], bool(self.firsts[index]))

    def __setitem__(self, index: int, row: PlayRow) -> None:
        item, start, code, first = row
        self.items[index], self.starts[index] = item, start
        self.codes[index], self.firsts[index] = code, first

    def __iter__(self) -> Iterator[PlayRow]:
        return zip(self.items, self.starts, self.codes, map(bool, self.firsts), strict=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HistoryPlays):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HistoryPlays({len(self)} plays)"
