"""Segue's settings, the one model every face edits: keys, defaults, validation, parsing.

The Settings dialog, ``segue settings`` and any host read and write the same
:class:`Settings`: each field is one setting, with its default, its bounds or choices and
its help in the field's metadata, stored as one JSON value in the store's ``settings``
table (:mod:`player_plugin.store.settings`). :mod:`player_plugin.app.suggest` reads the
ones that decide what is suggested (exclusions, variety, the familiar ↔ discover balance).

On the command line a value is text: numbers as written, booleans as true/false (yes/no,
on/off, 1/0), lists as a JSON array (``'["Jazz", "Podcast"]'``); without brackets, genres
are split on commas and a folder is one path. A value out of bounds is refused with one
line naming the setting (:class:`SettingError`), never clamped silently.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import sqlite_utils

from player_plugin.domain.errors import SegueError
from player_plugin.domain.paths import from_user
from player_plugin.store.settings import PROVIDER_KEY, all_settings, set_setting

log = logging.getLogger(__name__)

RETRAIN_POLICIES = ("plays", "idle", "manual")
DEFAULT_EXCLUDED_GENRES = ("Audiobook", "Podcast", "Spoken Word")
AUTOMATIC = ("", "auto", "automatic")  # provider values meaning "the best available"

__all__ = [
    "DEFAULT_EXCLUDED_GENRES",
    "RETRAIN_POLICIES",
    "SettingError",
    "Settings",
    "bounds",
    "describe",
    "names",
    "parse",
    "set_value",
    "validate",
]


class SettingError(SegueError):
    """An unknown setting, or a value it cannot take; ``subject`` is the setting's name."""


def _setting(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
    key: str | None = None,
) -> Any:
    meta = {"help": help, "low": low, "high": high, "choices": choices, "key": key}
    if isinstance(default, list | tuple):
        items = list(default)
        return field(default_factory=lambda: list(items), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Settings:
    """Every setting, with its default. Stored under ``ui.<name>`` (the keys the player
    has always used) unless the field names another key."""

    autoplay: bool = _setting(True, "when the queue runs dry, append the best suggestion")
    suggestions: int = _setting(10, "how many suggestions the dock shows", low=3, high=50)
    variety: float = _setting(
        0.5,
        "familiar (0) to discover (1); 0.5 is your own mix of replays and first plays",
        low=0,
        high=1,
    )
    artist_window: int = _setting(
        0,
        "no artist twice within this many suggestions (0: as often as you play them)",
        low=0,
        high=20,
    )
    exclude_last: int = _setting(
        10,
        "the last N plays come back only as often as you replay tracks (0: no limit)",
        low=0,
        high=1000,
    )
    # (_setting returns a dataclasses.field with a default_factory for a list)
    excluded_genres: list[str] = _setting(  # noqa: RUF009
        DEFAULT_EXCLUDED_GENRES, "genres never suggested (any letter case)"
    )
    excluded_folders: list[str] = _setting([], "folders whose tracks are never suggested")  # noqa: RUF009
    not_now_hours: int = _setting(24, '"not now" hides a track this many hours', low=1, high=720)
    provider: str = _setting(
        "", 'execution provider for the model ("" = automatic)', key=PROVIDER_KEY
    )
    retrain_policy: str = _setting(
        "plays", "retrain after new plays, when idle, or manually", choices=RETRAIN_POLICIES
    )
    retrain_after_plays: int = _setting(50, "new plays before a retrain", low=1, high=10_000)
    retrain_idle_minutes: int = _setting(10, "idle minutes before a retrain", low=1, high=1440)
    analyse_audio: bool = _setting(True, "analyse the audio of new tracks in the background")
    notify_track_change: bool = _setting(
        False, "show a desktop notification when a new track starts (the reference player)"
    )

    @classmethod
    def load(cls, db: sqlite_utils.Database) -> Settings:
        """The stored settings; a value that is unset or no longer valid reads as its
        default (logged)."""
        settings = cls()
        stored_values = all_settings(db)  # one query (the dock reads them on every call)
        for f in fields(cls):
            stored = stored_values.get(store_key(f.name))
            if stored is None:
                continue
            try:
                setattr(settings, f.name, validate(f.name, stored))
            except SettingError as exc:
                log.warning("setting ignored: %s", exc)
        return settings

    def save(self, db: sqlite_utils.Database) -> None:
        """Store every setting (validated: a wrong value raises, nothing is written)."""
        values = {name: validate(name, value) for name, value in asdict(self).items()}
        with db.atomic():
            for name, value in values.items():
                set_setting(db, store_key(name), value)


_FIELDS = {f.name: f for f in fields(Settings)}


def names() -> list[str]:
    """Every setting's name, in the order :class:`Settings` lists them."""
    return list(_FIELDS)


def store_key(name: str) -> str:
    """The ``settings`` table key a setting is stored under."""
    return _field(name).metadata["key"] or f"ui.{name}"


def describe(name: str) -> dict[str, Any]:
    """A setting's default, bounds or choices and help, for ``segue settings list``."""
    f = _field(name)
    meta = f.metadata
    default = getattr(Settings(), name)
    out: dict[str, Any] = {"default": default, "help": meta["help"]}
    if meta["low"] is not None:
        out["range"] = [meta["low"], meta["high"]]
    if meta["choices"]:
        out["choices"] = list(meta["choices"])
    return out


def bounds(name: str) -> tuple[float, float]:
    """The (low, high) a numeric setting accepts (a spin box's range)."""
    meta = _field(name).metadata
    if meta["low"] is None:
        raise SettingError("not a number setting", name)
    return meta["low"], meta["high"]


def set_value(db: sqlite_utils.Database, name: str, value: Any) -> Any:
    """Validate *value* and store it under *name*; returns the value as stored."""
    checked = validate(name, value)
    set_setting(db, store_key(name), checked)
    return checked


def _field(name: str):
    try:
        return _FIELDS[name]
    except KeyError:
        raise SettingError(f"unknown setting (known: {', '.join(_FIELDS)})", name) from None


def validate(name: str, value: Any) -> Any:
    """*value* as setting *name* holds it (an int for an int setting, a folder made
    absolute…); :class:`SettingError` when it cannot be that setting's value."""
    f = _field(name)
    meta = f.metadata
    kind = type(getattr(Settings(), name))
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingError(f"expected true or false, got {value!r}", name)
        return value
    if kind is int or kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingError(f"expected a number, got {value!r}", name)
        if kind is int and float(value) != int(value):
            raise SettingError(f"expected a whole number, got {value!r}", name)
        number = kind(value)
        if not meta["low"] <= number <= meta["high"]:
            raise SettingError(f"must be between {meta['low']:g} and {meta['high']:g}", name)
        return number
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingError(f"expected a list of text, got {value!r}", name)
        if name == "excluded_folders":
            return _unique([_folder(v) for v in value if v.strip()])
        return _unique([v.strip() for v in value if v.strip()])
    if not isinstance(value, str):
        raise SettingError(f"expected text, got {value!r}", name)
    if meta["choices"]:
        if value not in meta["choices"]:
            raise SettingError(f"must be one of {', '.join(meta['choices'])}", name)
        return value
    if name == "provider":
        return _provider(value)
    return value


def parse(name: str, text: str) -> Any:
    """The value of setting *name* written as *text* on a command line, validated."""
    kind = type(getattr(Settings(), _field(name).name))
    word = text.strip()
    value: Any
    if kind is bool:
        lowered = word.lower()
        if lowered in ("true", "yes", "on", "1"):
            value = True
        elif lowered in ("false", "no", "off", "0"):
            value = False
        else:
            raise SettingError(f"expected true or false, got {text!r}", name)
    elif kind is int or kind is float:
        try:
            value = int(word) if kind is int else float(word)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise SettingError(f"expected {what}, got {text!r}", name) from None
    elif kind is list:
        if word.startswith("["):
            try:
                value = json.loads(word)
            except ValueError:
                raise SettingError(f"not a JSON list: {text!r}", name) from None
        elif name == "excluded_folders":
            value = [text] if word else []
        else:
            value = [part for part in word.split(",")]
    else:
        value = word
    return validate(name, value)


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def _folder(text: str) -> str:
    """A folder as the exclusions compare it: absolute, ``~`` expanded, no trailing /
    (``b64:...`` for a name that is not UTF-8, as every command takes paths)."""
    text = text.strip()
    path = os.fsdecode(from_user(text if text.startswith("b64:") else os.path.expanduser(text)))
    return path.rstrip(os.sep) or os.sep


def _provider(value: str) -> str:
    """onnxruntime's name for an execution provider ("cuda" → CUDAExecutionProvider), or
    "" for automatic; a name onnxruntime does not know is refused."""
    if value.strip().lower() in AUTOMATIC:
        return ""
    # onnxruntime is heavy to import: only a provider setting needs it
    from player_plugin.recommend.engine import PROVIDER_NAMES, available_providers, provider_name

    name = provider_name(value.strip())
    if name not in {*PROVIDER_NAMES.values(), *available_providers()}:
        raise SettingError(f"not an execution provider onnxruntime knows: {value!r}", "provider")
    return name
