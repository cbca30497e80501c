"""Sparse rows of weights, ``row key -> {column key: weight}``, in little memory.

The history's transition, window and co-occurrence counts are such rows: after a long
history, millions of weights in tens of thousands of rows, of which a listening session
writes to a few dozen. A row written since the last :meth:`SparseRows.pack` lives as a
dict (an add costs a lookup); the others are *packed*, as two arrays (int32 keys, float64
weights, in the dict's order) — a dict's entry with its key and float objects costs ≈ 80
bytes, a packed one 12. A served history packs its rows once built and reads them packed
from the warm-start file; the trainer, which writes to every row as it replays, never
packs. A packed row written again comes back as the dict it was (the same keys in the same
order, the same weights): every weight is the same sum of the same additions in the same
order wherever the row lived.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np

__all__ = ["SparseRows"]


def _as_dict(packed: tuple[np.ndarray, np.ndarray]) -> dict[int, float]:
    return dict(zip(packed[0].tolist(), packed[1].tolist(), strict=True))


class SparseRows:
    """Rows of weights: ``live`` dicts (written since the last pack) and ``packed``
    (keys, weights) arrays, each row in one of the two."""

    __slots__ = ("live", "packed")

    def __init__(self) -> None:
        self.live: dict[int, dict[int, float]] = {}
        self.packed: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.live) + len(self.packed)

    def __contains__(self, key: object) -> bool:
        return key in self.live or key in self.packed

    def __iter__(self) -> Iterator[int]:
        yield from self.live
        yield from self.packed

    def __eq__(self, other: object) -> bool:
        """The same rows, each with the same weights in the same order, live or packed."""
        if not isinstance(other, SparseRows):
            return NotImplemented
        mine = {key: list(self[key].items()) for key in self}
        return mine == {key: list(other[key].items()) for key in other}

    __hash__ = None  # type: ignore[assignment]

    def row(self, key: int) -> dict[int, float]:
        """Row *key* to write to: live (an empty one made, or the packed one unpacked)."""
        row = self.live.get(key)
        if row is None:
            packed = self.packed.pop(key, None)
            row = {} if packed is None else _as_dict(packed)
            self.live[key] = row
        return row

    def get(self, key: int) -> Mapping[int, float] | None:
        """Row *key* to read (a packed one as a dict made for the reader), or None."""
        row = self.live.get(key)
        if row is not None:
            return row
        packed = self.packed.get(key)
        return None if packed is None else _as_dict(packed)

    def __getitem__(self, key: int) -> Mapping[int, float]:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return row

    def arrays(self, key: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Row *key*'s (keys, weights) in its order (a packed row's own arrays: not to be
        written), or None when there is no such row."""
        packed = self.packed.get(key)
        if packed is not None:
            return packed
        row = self.live.get(key)
        if row is None:
            return None
        n = len(row)
        return np.fromiter(row.keys(), np.int32, n), np.fromiter(row.values(), np.float64, n)

    def value(self, key: int, column: int) -> float:
        """The weight at (*key*, *column*): 0.0 where there is none."""
        row = self.live.get(key)
        if row is not None:
            return row.get(column, 0.0)
        packed = self.packed.get(key)
        if packed is None:
            return 0.0
        at = np.flatnonzero(packed[0] == column)
        return float(packed[1][at[0]]) if len(at) else 0.0

    def pack(self, keys: Iterable[int] | None = None) -> None:
        """Pack the live rows *keys* (all when None)."""
        live, packed = self.live, self.packed
        for key in list(live) if keys is None else keys:
            row = live.pop(key)
            n = len(row)
            packed[key] = (
                np.fromiter(row.keys(), np.int32, n),
                np.fromiter(row.values(), np.float64, n),
            )

    @classmethod
    def from_flat(
        cls, keys: list[int], sizes: np.ndarray, columns: np.ndarray, weights: np.ndarray
    ) -> SparseRows:
        """Rows *keys*, packed, row k holding the next ``sizes[k]`` of *columns* and
        *weights* (views of them: the two arrays are kept)."""
        out = cls()
        ends = np.cumsum(sizes).tolist()
        starts = [0, *ends][:-1]
        columns = columns.astype(np.int32, copy=False)
        out.packed = {
            key: (columns[a:b], weights[a:b]) for key, a, b in zip(keys, starts, ends, strict=True)
        }
        return out

    def flat(self) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """``(keys, sizes, columns, weights)`` as :meth:`from_flat` takes them (copies)."""
        keys = list(self)
        empty = (np.zeros(0, np.int32), np.zeros(0))
        rows = [self.arrays(key) or empty for key in keys]
        sizes = np.fromiter((len(c) for c, _ in rows), np.int64, len(keys))
        columns = np.concatenate([empty[0], *(c for c, _ in rows)])
        weights = np.concatenate([empty[1], *(w for _, w in rows)])
        return keys, sizes, columns, weights
