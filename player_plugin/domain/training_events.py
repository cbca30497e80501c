"""The trainer's progress events: one schema that ``python -m training`` writes and
:mod:`player_plugin.app.retrain` reads back.

Each event is a frozen dataclass; on the wire it is one JSON object per line with an
``"event"`` field naming its kind (``start``, ``data``, ``epoch``, ``stage``, ``done``,
``cancelled``, ``error``). :func:`to_line` writes one, :func:`from_line` parses one (None for
any other text, which callers log), :func:`from_dict` checks a mapping against the schema.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

__all__ = [
    "Cancelled",
    "Data",
    "Done",
    "Epoch",
    "Failed",
    "Stage",
    "Start",
    "TrainingEvent",
    "from_dict",
    "from_line",
    "to_line",
]


@dataclass(frozen=True)
class Start:
    """The trainer read the store: *plays* before *until* (ms UTC) over *tracks* tracks."""

    kind: ClassVar[str] = "start"
    plays: int
    tracks: int
    until: int | None = None
    blind: bool = False


@dataclass(frozen=True)
class Data:
    """Training examples built: *targets* in all, *validation* of them held back; the
    *history* oldest plays only built the history the targets start from (a long history's
    cap, 0 when every play could be a target)."""

    kind: ClassVar[str] = "data"
    targets: int
    train: int
    validation: int
    seconds: float = 0.0
    history: int = 0


@dataclass(frozen=True)
class Epoch:
    """One epoch done: a point of the training curve."""

    kind: ClassVar[str] = "epoch"
    epoch: int
    epochs: int
    loss: float
    val_loss: float
    val_ndcg10: float
    eta_s: float = 0.0


@dataclass(frozen=True)
class Stage:
    """A step outside the epochs (``export``), for progress displays."""

    kind: ClassVar[str] = "stage"
    name: str


@dataclass(frozen=True)
class Done:
    """The model folder is complete at *folder*; *metrics* are its validation figures."""

    kind: ClassVar[str] = "done"
    folder: str
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Cancelled:
    """The trainer stopped on request and removed what it had begun."""

    kind: ClassVar[str] = "cancelled"


@dataclass(frozen=True)
class Failed:
    """The trainer failed; *message* is the one line that says why."""

    kind: ClassVar[str] = "error"
    message: str


TrainingEvent = Start | Data | Epoch | Stage | Done | Cancelled | Failed

_KINDS: dict[str, type] = {
    cls.kind: cls for cls in (Start, Data, Epoch, Stage, Done, Cancelled, Failed)
}
_NUMBER = (int, float)


def _kind(cls: type) -> str:
    return str(getattr(cls, "kind", cls.__name__))


def _check(cls: type, name: str, value: Any) -> Any:
    """*value* when it fits field *name* of *cls*; raises ValueError otherwise."""
    wanted = {f.name: f.type for f in fields(cls)}[name]
    text = str(wanted)
    if value is None and "None" in text:
        return value
    if text.startswith("int") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if text.startswith("float") and isinstance(value, _NUMBER) and not isinstance(value, bool):
        return float(value)
    if text.startswith("bool") and isinstance(value, bool):
        return value
    if text.startswith("str") and isinstance(value, str):
        return value
    if text.startswith("dict") and isinstance(value, dict):
        return value
    raise ValueError(f"{_kind(cls)} event: {name}={value!r} is not {text}")


def from_dict(data: dict[str, Any]) -> TrainingEvent:
    """The event *data* describes (its ``event`` field names the kind; unknown fields are
    ignored); ValueError when it does not fit the schema."""
    cls = _KINDS.get(str(data.get("event")))
    if cls is None:
        raise ValueError(f"unknown training event {data.get('event')!r}")
    values = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = _check(cls, f.name, data[f.name])
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"{_kind(cls)} event: {exc}") from exc


def to_line(event: TrainingEvent) -> str:
    """*event* as one JSON line (no newline)."""
    return json.dumps({"event": event.kind, **asdict(event)})


def from_line(line: str | bytes) -> TrainingEvent | None:
    """The event on one output line; None for text that is not an event (a warning, a
    malformed or foreign object)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
        return from_dict(data) if isinstance(data, dict) else None
    except ValueError:
        return None
