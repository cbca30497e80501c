"""Plain values to arrays and back: how a serving state is written to the warm-start file.

A serving state is numpy arrays, plain numbers, and Python containers of them (the
history's counts as ``dict[int, dict[int, float]]`` or :class:`SparseRows`, read back
packed, the plays as :class:`Play` rows or the columns of a :class:`PlayLog` or
:class:`HistoryPlays`, a deque of recent items...). :func:`pack` turns a mapping of named
values into JSON-able descriptions plus numpy arrays (what ``np.savez`` stores
without pickling; a dict of dicts becomes three flat arrays, a list of plays five columns,
a set its members);
:func:`unpack` gives back values equal to the packed ones, of the same types (int stays
int, an :class:`Outcome` stays an Outcome, a tuple a tuple, insertion order kept). A
value of any other kind raises :class:`Unpackable`: the state is then not saved, never
saved wrongly.

:func:`restore_into` puts unpacked attributes into a freshly constructed object after
checking that they are exactly the attributes this code's class has, of the same kinds
(a state saved by other code is refused, not half-used).
"""

from __future__ import annotations

import dataclasses
import gc
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import IntEnum
from itertools import chain, islice
from typing import Any

import numpy as np

from player_plugin.domain.listen import Outcome
from player_plugin.domain.play import Play, PlayLog, plays_from_columns
from player_plugin.recommend.features import HistoryCode, SessionTally
from player_plugin.recommend.history_plays import HistoryPlays
from player_plugin.recommend.rerank import RerankSettings
from player_plugin.recommend.sparse_rows import SparseRows
from player_plugin.recommend.variety import VarietyProfile, VarietyWindow

__all__ = ["Unpackable", "pack", "restore_into", "unpack"]

ENUMS: dict[str, type[IntEnum]] = {"Outcome": Outcome, "HistoryCode": HistoryCode}
DATACLASSES: dict[str, type] = {
    "VarietyProfile": VarietyProfile,
    "RerankSettings": RerankSettings,
    "SessionTally": SessionTally,
    "VarietyWindow": VarietyWindow,
}
_SCALARS = (type(None), bool, int, float, str)


class Unpackable(ValueError):
    """A value of a kind this module does not pack (the state is not saved)."""


class _Arrays(dict):
    """The arrays packed so far, and the names of values whose arrays never change
    (kept as they are, not copied)."""

    def __init__(self, shared: frozenset[str]) -> None:
        super().__init__()
        self.shared = shared


def pack(
    values: Mapping[str, object], *, shared: Iterable[str] = ()
) -> tuple[dict, dict[str, np.ndarray]]:
    """(descriptions, arrays) for *values*; raises :class:`Unpackable`. The arrays are
    copies (the values may change once this returns), but for the values named in
    *shared*, whose arrays never change (less memory while a state is written)."""
    arrays = _Arrays(frozenset(shared))
    return {name: _enc(value, name, arrays) for name, value in values.items()}, arrays


def unpack(described: Mapping[str, dict], arrays: Mapping[str, np.ndarray]) -> dict:
    """The values :func:`pack` was given (raises KeyError/ValueError on a broken file).

    Python's cycle collector is paused meanwhile: a long history unpacks into millions of
    plays, tuples and rows, none in a reference cycle, and every few hundred made set off
    a collection that also walked those made before (half of the unpacking of a
    million-play state, measured)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return {name: _dec(d, arrays) for name, d in described.items()}
    finally:
        if collecting:
            gc.enable()


def _scalar(value: object) -> dict | None:
    if type(value) in _SCALARS:
        return {"k": "v", "v": value}
    if isinstance(value, IntEnum) and ENUMS.get(type(value).__name__) is type(value):
        return {"k": "enum", "c": type(value).__name__, "v": int(value)}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"k": "np", "d": value.dtype.str, "v": value.item()}
    return None


def _column(values: list, name: str, arrays: dict[str, np.ndarray]) -> dict:
    """A list of scalars of one type as one array."""
    kinds = {type(v) for v in values}
    if len(kinds) != 1:
        raise Unpackable(f"{name}: mixed types {sorted(k.__name__ for k in kinds)}")
    kind = kinds.pop()
    if kind is bool:
        arrays[name] = np.asarray(values, dtype=bool)
        return {"k": "col", "t": "bool", "a": name}
    if kind is int:
        arrays[name] = np.asarray(values, dtype=np.int64)
        return {"k": "col", "t": "int", "a": name}
    if kind is float:
        arrays[name] = np.asarray(values, dtype=np.float64)
        return {"k": "col", "t": "float", "a": name}
    if kind is type(None):
        return {"k": "col", "t": "none", "n": len(values)}
    if issubclass(kind, IntEnum) and ENUMS.get(kind.__name__) is kind:
        arrays[name] = np.asarray([int(v) for v in values], dtype=np.int64)
        return {"k": "col", "t": kind.__name__, "a": name}
    if kind in (str, bytes):
        if kind is str:
            joined = "\x00".join(values).encode("utf-8", "surrogatepass")
        else:
            joined = b"\x00".join(values)
        if joined.count(b"\x00") == len(values) - 1:  # no value holds the separator: split
            arrays[name] = np.frombuffer(joined, np.uint8)
            return {"k": "col", "t": kind.__name__, "a": name, "sep": True, "n": len(values)}
        if kind is str:
            whole = "".join(values).encode("utf-8", "surrogatepass")
        else:
            whole = b"".join(values)
        arrays[name] = np.frombuffer(whole, np.uint8)
        arrays[name + ".len"] = np.fromiter(map(len, values), np.int64, len(values))
        return {"k": "col", "t": kind.__name__, "a": name}
    raise Unpackable(f"{name}: a list of {kind.__name__}")


def _uncolumn(d: dict, arrays: Mapping[str, np.ndarray]) -> list:
    t = d["t"]
    if t == "none":
        return [None] * int(d["n"])
    data = arrays[d["a"]]
    if t in ("bool", "int", "float"):
        want = {"bool": np.bool_, "int": np.int64, "float": np.float64}[t]
        if data.dtype != want or data.ndim != 1:
            raise ValueError(f"{d['a']}: not a column of {t}")
        return data.tolist()
    if t in ENUMS:
        enum = ENUMS[t]
        members = {int(m): m for m in enum}
        return [members[v] for v in data.tolist()]
    if t not in ("str", "bytes"):
        raise ValueError(f"unknown column type {t!r}")
    whole = data.tobytes().decode("utf-8", "surrogatepass") if t == "str" else data.tobytes()
    if d.get("sep"):  # one split on the separator no value holds
        if not d["n"]:
            return []
        out = whole.split("\x00" if t == "str" else b"\x00")  # type: ignore[arg-type]
        if len(out) != d["n"]:
            raise ValueError(f"{d['a']}: {len(out)} values, expected {d['n']}")
        return out
    ends = np.cumsum(arrays[d["a"] + ".len"]).tolist()
    starts = [0, *ends[:-1]]
    return [whole[a:b] for a, b in zip(starts, ends, strict=True)]


def _array(value: np.ndarray, name: str, arrays: dict[str, np.ndarray]) -> dict:
    """An array as it is, or, when most of it is one value (a history's counts over a
    library mostly never played), that value and the positions and values of the rest;
    compared bit for bit, so -0.0 and NaN come back as they were."""
    width = value.dtype.itemsize
    copy = name not in getattr(arrays, "shared", ())  # a state goes on changing: copied
    if value.ndim != 1 or value.size < 1024 or width not in (1, 2, 4, 8):
        arrays[name] = np.array(value) if copy else value
        return {"k": "nd", "a": name}
    bits = value.view(f"u{width}")
    fill = bits[0]
    where = np.flatnonzero(bits != fill)
    if where.size * 4 > value.size:
        arrays[name] = np.array(value) if copy else value
        return {"k": "nd", "a": name}
    arrays[name + ".at"] = where
    arrays[name + ".v"] = bits[where]
    return {"k": "sparse", "a": name, "d": value.dtype.str, "n": value.size, "f": int(fill)}


def _unarray(d: dict, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    dtype = np.dtype(d["d"])
    bits = np.full(int(d["n"]), d["f"], dtype=f"u{dtype.itemsize}")
    bits[arrays[d["a"] + ".at"]] = arrays[d["a"] + ".v"]
    return bits.view(dtype)


def _rows(rows: dict, name: str, arrays: dict[str, np.ndarray]) -> dict:
    """dict[key, dict | list] as keys, row lengths, and the rows' keys and values."""
    inner = [r for r in rows.values()]
    kind = "dict" if all(type(r) is dict for r in inner) else "list"
    if kind == "list" and not all(type(r) is list for r in inner):
        raise Unpackable(f"{name}: rows of mixed kinds")
    out: dict[str, Any] = {"k": "rows", "r": kind, "keys": _column(list(rows), name + ".k", arrays)}
    out["n"] = name + ".n"
    arrays[name + ".n"] = np.fromiter(map(len, inner), np.int64, len(inner))
    total = int(arrays[name + ".n"].sum())
    if kind == "dict":
        out["cols"] = _flat(lambda: chain.from_iterable(inner), total, name + ".c", arrays)
        out["vals"] = _flat(
            lambda: chain.from_iterable(r.values() for r in inner), total, name + ".v", arrays
        )
    else:
        out["vals"] = _flat(lambda: chain.from_iterable(inner), total, name + ".v", arrays)
    return out


def _flat(
    values: Callable[[], Iterator], total: int, name: str, arrays: dict[str, np.ndarray]
) -> dict | None:
    """The *total* values *values()* iterates over as one column: numbers straight into
    an array (the rows of a 226,000-entry history would otherwise make lists of every
    key and value first)."""
    if not total:
        return None
    kinds = set(map(type, values()))
    if kinds == {int} or kinds == {float}:
        dtype = np.int64 if kinds == {int} else np.float64
        arrays[name] = np.fromiter(values(), dtype, total)
        return {"k": "col", "t": "int" if kinds == {int} else "float", "a": name}
    return _column(list(values()), name, arrays)


def _sparse_rows(rows: SparseRows, name: str, arrays: dict[str, np.ndarray]) -> dict:
    """:class:`SparseRows` as four arrays: its row keys, their sizes, and every row's
    columns and weights one after the other (read back packed)."""
    keys, sizes, columns, weights = rows.flat()
    arrays[name + ".k"] = np.asarray(keys, dtype=np.int64)
    arrays[name + ".n"], arrays[name + ".c"], arrays[name + ".w"] = sizes, columns, weights
    return {"k": "srows", "a": name}


def _unsparse_rows(d: dict, arrays: Mapping[str, np.ndarray]) -> SparseRows:
    name = d["a"]
    keys, sizes = arrays[name + ".k"], arrays[name + ".n"]
    columns, weights = arrays[name + ".c"], arrays[name + ".w"]
    dtypes = [a.dtype.str[1:] for a in (keys, sizes, columns, weights)]
    if dtypes != ["i8", "i8", "i4", "f8"]:
        raise ValueError(f"{name}: not sparse rows")
    if len(keys) != len(sizes) or len({int(sizes.sum()), len(columns), len(weights)}) != 1:
        raise ValueError(f"{name}: {len(keys)} rows of {int(sizes.sum())} weights do not fit")
    return SparseRows.from_flat(keys.tolist(), sizes, columns, weights)


def _unrows(d: dict, arrays: Mapping[str, np.ndarray]) -> dict:
    keys = _uncolumn(d["keys"], arrays)
    sizes = arrays[d["n"]].tolist()
    vals = iter(_uncolumn(d["vals"], arrays) if d["vals"] else [])
    if len(sizes) != len(keys):
        raise ValueError(f"{d['n']}: {len(sizes)} rows, expected {len(keys)}")
    out: dict[Any, Any]
    if d["r"] == "dict":
        cols = iter(_uncolumn(d["cols"], arrays) if d["cols"] else [])
        out = {
            k: dict(zip(islice(cols, m), islice(vals, m), strict=True))
            for k, m in zip(keys, sizes, strict=True)
        }
    else:
        out = {k: list(islice(vals, m)) for k, m in zip(keys, sizes, strict=True)}
    if next(vals, None) is not None:
        raise ValueError(f"{d['n']}: more values than its rows hold")
    return out


def _enc(value: Any, name: str, arrays: dict[str, np.ndarray]) -> dict:
    scalar = _scalar(value)
    if scalar is not None:
        return scalar
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise Unpackable(f"{name}: an array of objects")
        return _array(value, name, arrays)
    if type(value) is SparseRows:
        return _sparse_rows(value, name, arrays)
    if type(value) is PlayLog:  # its five columns as they are
        for i, copied in enumerate(value.columns()):  # copied holding the GIL (see columns)
            arrays[f"{name}.{i}"] = np.frombuffer(copied, dtype=copied.typecode)
        return {"k": "playlog", "a": name}
    if type(value) is HistoryPlays:  # its four columns as they are
        for i, values in enumerate(value.columns()):
            arrays[f"{name}.{i}"] = values
        return {"k": "hplays", "a": name}
    if type(value) is Play:
        return {"k": "play", "v": [_enc(getattr(value, f), name, arrays) for f in Play.__slots__]}
    if type(value) is tuple:
        return {"k": "tuple", "v": [_enc(v, f"{name}.{i}", arrays) for i, v in enumerate(value)]}
    if dataclasses.is_dataclass(value) and DATACLASSES.get(type(value).__name__) is type(value):
        fields = {
            f.name: _enc(getattr(value, f.name), f"{name}.{f.name}", arrays)
            for f in dataclasses.fields(value)
        }
        return {"k": "dc", "c": type(value).__name__, "v": fields}
    if type(value) is deque:
        return {"k": "deque", "m": value.maxlen, "v": _enc(list(value), name, arrays)}
    if type(value) is OrderedDict:
        if any(v is not None for v in value.values()):
            raise Unpackable(f"{name}: an ordered dict with values")
        return {"k": "okeys", "v": _enc(list(value), name, arrays)}
    if type(value) in (set, frozenset):  # back as the same set (its order is its own)
        kind = "set" if type(value) is set else "frozenset"
        return {"k": kind, "v": _enc(list(value), name, arrays)}
    if type(value) is defaultdict and value.default_factory is list:
        return {"k": "ddlist", "v": _enc(dict(value), name, arrays)}
    if type(value) is dict:
        if not value:
            return {"k": "dict", "keys": None, "vals": None}
        first = next(iter(value.values()))
        if type(first) in (dict, list):
            return _rows(value, name, arrays)
        keys, vals = list(value), list(value.values())
        return {
            "k": "dict",
            "keys": _column(keys, name + ".k", arrays),
            "vals": _column(vals, name + ".v", arrays),
        }
    if type(value) is list:
        if not value:
            return {"k": "list", "v": None}
        if all(type(v) is Play for v in value):
            return {
                "k": "plays",
                "v": [
                    _column([getattr(p, f) for p in value], f"{name}.{f}", arrays)
                    for f in Play.__slots__
                ],
            }
        if all(type(v) is tuple for v in value):
            width = {len(v) for v in value}
            if len(width) != 1:
                raise Unpackable(f"{name}: tuples of different lengths")
            columns = list(zip(*value, strict=True))
            return {
                "k": "tuples",
                "v": [_column(list(c), f"{name}.{i}", arrays) for i, c in enumerate(columns)],
            }
        return {"k": "list", "v": _column(value, name, arrays)}
    raise Unpackable(f"{name}: a {type(value).__name__}")


def _dec(d: dict, arrays: Mapping[str, np.ndarray]) -> Any:
    kind = d["k"]
    if kind == "v":
        return d["v"]
    if kind == "enum":
        return ENUMS[d["c"]](d["v"])
    if kind == "np":
        return np.dtype(d["d"]).type(d["v"])
    if kind == "nd":
        return np.array(arrays[d["a"]])  # writable, owning its data
    if kind == "sparse":
        return _unarray(d, arrays)
    if kind == "srows":
        return _unsparse_rows(d, arrays)
    if kind == "playlog":
        return PlayLog.from_columns(*(arrays[f"{d['a']}.{i}"] for i in range(5)))
    if kind == "hplays":
        return HistoryPlays.from_columns(*(arrays[f"{d['a']}.{i}"] for i in range(4)))
    if kind == "play":
        return Play(*(_dec(v, arrays) for v in d["v"]))
    if kind == "tuple":
        return tuple(_dec(v, arrays) for v in d["v"])
    if kind == "dc":
        cls = DATACLASSES[d["c"]]
        return cls(**{k: _dec(v, arrays) for k, v in d["v"].items()})
    if kind == "deque":
        return deque(_dec(d["v"], arrays), maxlen=d["m"])
    if kind == "okeys":
        return OrderedDict.fromkeys(_dec(d["v"], arrays))
    if kind in ("set", "frozenset"):
        items = _dec(d["v"], arrays)
        return set(items) if kind == "set" else frozenset(items)
    if kind == "ddlist":
        out: defaultdict[object, list] = defaultdict(list)
        out.update(_dec(d["v"], arrays))
        return out
    if kind == "rows":
        return _unrows(d, arrays)
    if kind == "dict":
        if d["keys"] is None:
            return {}
        keys, vals = _uncolumn(d["keys"], arrays), _uncolumn(d["vals"], arrays)
        return dict(zip(keys, vals, strict=True))
    if kind == "list":
        return [] if d["v"] is None else _uncolumn(d["v"], arrays)
    if kind == "plays":
        # the fields in Play's order; outcomes as an Outcome column (members, as plays hold)
        kinds = [c.get("t") for c in d["v"]]
        if len(kinds) != len(Play.__slots__) or kinds[3] != "Outcome":
            raise ValueError(f"plays stored as columns of {kinds}")
        return plays_from_columns(*(_uncolumn(c, arrays) for c in d["v"]))
    if kind == "tuples":
        columns = [_uncolumn(c, arrays) for c in d["v"]]
        return list(zip(*columns, strict=True))
    raise ValueError(f"unknown kind {kind!r}")


def restore_into(
    fresh: object, values: Mapping[str, object], *, keep: tuple[str, ...] = ()
) -> None:
    """Set *values* as *fresh*'s attributes (besides those named in *keep*, which stay as
    constructed), after checking they are the attributes *fresh* has, each of the kind
    it has (arrays of the same dtype and shape); raises ValueError otherwise."""
    have = vars(fresh)
    if set(have) - set(keep) != set(values):
        missing = sorted(set(have) - set(keep) - set(values))
        extra = sorted(set(values) - set(have))
        raise ValueError(f"saved by other code (missing {missing[:3]}, extra {extra[:3]})")
    for name, value in values.items():
        now = have[name]
        if isinstance(now, np.ndarray):
            ok = isinstance(value, np.ndarray) and (value.dtype, value.shape) == (
                now.dtype,
                now.shape,
            )
        else:
            ok = now is None or value is None or type(value) is type(now)
        if not ok:
            raise ValueError(f"{name}: saved as another kind")
    for name, value in values.items():
        setattr(fresh, name, value)
