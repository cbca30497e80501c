"""The model registry: versioned model folders beside the database, and their states.

A model lives in ``<database folder>/models/<id>/`` (manifest + ONNX files); its row in
``models`` says whether it is a ``candidate``, the ``active`` one, ``retired`` (was active,
kept for fallback and rollback), ``rejected`` (lost the promotion check; metrics kept) or
``rolled_back``. Activation is one transaction, so exactly one model is active at any
moment, and only a complete, evaluated model (manifest present, held-out figures recorded)
can become active; only the newest :data:`KEEP` models (and the active one) are kept on
disk, and pruning also removes model folders that have no row. A row's metrics hold
``validation`` (the trainer's), ``holdout`` (the promotion comparison) and ``curve`` (the
training curve, one point per epoch: :func:`model_curve`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import sqlite_utils

from player_plugin.domain.errors import SegueError
from player_plugin.domain.training_events import Epoch

log = logging.getLogger(__name__)

KEEP = 3
CURVE_FIELDS = ("epoch", "loss", "val_loss", "val_ndcg10")


class RegistryError(SegueError):
    """A registry request that cannot be done (unknown id, nothing to roll back to)."""


def db_file(db: sqlite_utils.Database) -> Path | None:
    """The file behind *db* (None for an in-memory database)."""
    for _seq, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return Path(file) if file else None
    return None


def models_root(db: sqlite_utils.Database) -> Path:
    """``<database folder>/models``."""
    path = db_file(db)
    if path is None:
        raise RegistryError("an in-memory database has no model folder")
    return path.parent / "models"


def ensure_models_root(root: Path) -> Path:
    """Create the models folder (and missing parents) for the user only (0700); an
    existing one is left as it is."""
    root.parent.mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        root.mkdir(mode=0o700, exist_ok=True)
    return root


def new_model_id(db: sqlite_utils.Database, now_ms: int | None = None) -> str:
    """A fresh id like ``20261129-024700`` (suffixed when that second is taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime((now_ms or time.time() * 1000) / 1000))
    root = models_root(db)
    candidate, n = stamp, 1
    while get_model(db, candidate) is not None or (root / candidate).exists():
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


def _row(row: dict) -> dict:
    out = dict(row)
    try:
        out["metrics"] = json.loads(row["metrics"]) if row.get("metrics") else {}
    except ValueError:
        out["metrics"] = {}
    return out


def add_model(
    db: sqlite_utils.Database,
    model_id: str,
    *,
    folder: str,
    cutoff: int | None,
    data_size: int | None,
    metrics: dict,
    state: str = "candidate",
    reason: str | None = None,
    created_at: int | None = None,
) -> None:
    db.execute(
        "INSERT INTO models (id, folder, created_at, state, cutoff, data_size, metrics, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            model_id,
            folder,
            created_at or int(time.time() * 1000),
            state,
            cutoff,
            data_size,
            json.dumps(metrics),
            reason,
        ],
    )


def update_model(
    db: sqlite_utils.Database,
    model_id: str,
    *,
    state: str | None = None,
    metrics: dict | None = None,
    reason: str | None = None,
) -> None:
    if state is not None:
        db.execute("UPDATE models SET state = ? WHERE id = ?", [state, model_id])
    if metrics is not None:
        db.execute("UPDATE models SET metrics = ? WHERE id = ?", [json.dumps(metrics), model_id])
    if reason is not None:
        db.execute("UPDATE models SET reason = ? WHERE id = ?", [reason, model_id])


def delete_model(db: sqlite_utils.Database, model_id: str) -> None:
    """Remove *model_id*'s row and its folder."""
    row = get_model(db, model_id)
    db.execute("DELETE FROM models WHERE id = ?", [model_id])
    if row is not None:
        shutil.rmtree(model_folder(db, row), ignore_errors=True)


def curve_points(epochs: Iterable[Epoch]) -> list[dict]:
    """The training curve as it is stored in a row's metrics (``curve``)."""
    return [{name: getattr(e, name) for name in CURVE_FIELDS} for e in epochs]


def model_curve(row: dict) -> list[dict]:
    """The training curve recorded for the model *row* ([] when none was)."""
    curve = (row.get("metrics") or {}).get("curve")
    if not isinstance(curve, list):
        return []
    return [p for p in curve if isinstance(p, dict) and "epoch" in p]


def get_model(db: sqlite_utils.Database, model_id: str) -> dict | None:
    rows = list(db.query("SELECT * FROM models WHERE id = ?", [model_id]))
    return _row(rows[0]) if rows else None


def list_models(db: sqlite_utils.Database) -> list[dict]:
    """Every registered model, newest first."""
    return [_row(r) for r in db.query("SELECT * FROM models ORDER BY created_at DESC, id DESC")]


def active_model(db: sqlite_utils.Database) -> dict | None:
    rows = list(db.query("SELECT * FROM models WHERE state = 'active' LIMIT 1"))
    return _row(rows[0]) if rows else None


def model_folder(db: sqlite_utils.Database, row: dict) -> Path:
    """The folder of a registry row: always a folder directly inside the models directory
    (a plain name, or an absolute path there). Anything else raises :class:`RegistryError`
    (one line), so nothing outside the models directory is ever read or deleted."""
    root = models_root(db)
    name = str(row.get("folder") or "")
    folder = Path(name)
    if folder.is_absolute():
        inside = folder.resolve(strict=False)
        if inside.parent == root.resolve(strict=False) and inside.name not in ("", ".", ".."):
            return root / inside.name
    elif (
        name not in ("", ".", "..")
        and folder.name == name
        and not any(c in name for c in "/\\\x00")
    ):
        return root / name
    raise RegistryError(f"model {row.get('id')}: its folder {name!r} is not in the model folder")


def _has_files(db: sqlite_utils.Database, row: dict) -> bool:
    try:
        return model_folder(db, row).is_dir()
    except RegistryError:
        return False


def serving_order(db: sqlite_utils.Database) -> list[dict]:
    """Models to try when serving: the active one, then retired ones, newest first."""
    rows = list_models(db)
    return [r for r in rows if r["state"] == "active"] + [
        r for r in rows if r["state"] == "retired"
    ]


def activate(db: sqlite_utils.Database, model_id: str) -> str | None:
    """Make *model_id* the active model (the previous one is retired), atomically.
    Returns the previously active id."""
    row = get_model(db, model_id)
    if row is None:
        raise RegistryError(f"no model {model_id!r} (see `segue model list`)")
    if not model_folder(db, row).is_dir():
        raise RegistryError(f"model {model_id} has no files any more")
    if not (model_folder(db, row) / "manifest.json").is_file():
        raise RegistryError(f"model {model_id} is incomplete (no manifest)")
    if "holdout" not in (row.get("metrics") or {}):
        raise RegistryError(
            f"model {model_id} was never evaluated on your newest plays; it cannot serve"
        )
    previous = active_model(db)
    with db.atomic():
        db.execute(
            "UPDATE models SET state = 'retired' WHERE state = 'active' AND id != ?", [model_id]
        )
        db.execute("UPDATE models SET state = 'active' WHERE id = ?", [model_id])
    return previous["id"] if previous and previous["id"] != model_id else None


def rollback(db: sqlite_utils.Database) -> tuple[str, str]:
    """Retire the active model as ``rolled_back`` and reactivate the newest retired one.
    Returns (rolled back id, now active id)."""
    current = active_model(db)
    if current is None:
        raise RegistryError("no active model to roll back")
    retired = [r for r in list_models(db) if r["state"] == "retired" and _has_files(db, r)]
    if not retired:
        raise RegistryError("no earlier model to roll back to")
    target = retired[0]
    with db.atomic():
        db.execute("UPDATE models SET state = 'rolled_back' WHERE id = ?", [current["id"]])
        db.execute("UPDATE models SET state = 'active' WHERE id = ?", [target["id"]])
    return current["id"], target["id"]


def prune(db: sqlite_utils.Database, keep: int = KEEP) -> list[str]:
    """Delete all but the newest *keep* models (never the active one), rows and folders."""
    rows = list_models(db)
    active = [r for r in rows if r["state"] == "active"]
    kept = {r["id"] for r in active}
    for r in rows:
        if len(kept) >= keep:
            break
        kept.add(r["id"])
    removed = []
    for r in rows:
        if r["id"] in kept:
            continue
        db.execute("DELETE FROM models WHERE id = ?", [r["id"]])
        try:
            folder = model_folder(db, r)
        except RegistryError as exc:  # only ever delete inside the models directory
            log.warning("%s; its row is removed, no folder deleted", exc)
        else:
            shutil.rmtree(folder, ignore_errors=True)
        removed.append(r["id"])
    removed += remove_orphan_folders(db)
    if removed:
        log.info("removed old models: %s", ", ".join(removed))
    return removed


def remove_orphan_folders(db: sqlite_utils.Database) -> list[str]:
    """Delete model folders that no registry row names (a training whose parent died after
    the export); hidden entries (a running export, the lock) are left alone."""
    root = models_root(db)
    if not root.is_dir():
        return []
    known = {model_folder(db, r).resolve() for r in list_models(db)}
    removed = []
    for path in root.iterdir():
        if path.name.startswith(".") or not path.is_dir() or path.resolve() in known:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed
