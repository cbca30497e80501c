"""`segue doctor`: versions, execution providers, decoders, database and model status.

It never creates a database: where there is none yet it says so (``"exists": false``) and
reports what a first scan would use.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
from importlib import metadata

from player_plugin import __version__
from player_plugin.app.folders import folder_report
from player_plugin.cli.common import add_command, database_path, emit, store
from player_plugin.domain.words import count
from player_plugin.library.decode import available_decoders, decoder_versions
from player_plugin.recommend.engine import available_providers
from player_plugin.recommend.model import model_status
from player_plugin.store.db import schema_version
from player_plugin.store.features import analysis_counts
from player_plugin.store.stats import active_model, counts


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def report(args: argparse.Namespace) -> dict:
    path = str(database_path(args))
    info = {
        "segue": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            name: _version(name)
            for name in (
                "onnxruntime",
                "onnxruntime-gpu",
                "PySide6-Essentials",
                "PySide6-Addons",
                "mutagen",
                "sqlite-utils",
                "numpy",
                "torch",
                "librosa",
            )
        },
        "providers_available": available_providers(),
        "decoders": available_decoders(),
        "decoder_libraries": decoder_versions(),
    }
    if not os.path.exists(path):  # doctor looks, it never creates a database
        return {
            **info,
            "analysis": None,
            "database": {"path": path, "exists": False},
            "folders": [],
            "model": None,
            "serving": {"serving": "baselines", "model_id": None, "provider": None},
        }
    db = store(args)
    model = active_model(db)
    return {
        **info,
        "analysis": analysis_counts(db),
        "database": {
            "path": path,
            "exists": True,
            "schema_version": schema_version(db),
            **counts(db),
        },
        "folders": [f.as_json() for f in folder_report(db)],
        "model": None
        if model is None
        else {"id": model["id"], "state": model["state"], "created_at": model["created_at"]},
        "serving": model_status(db),
    }


def run(args: argparse.Namespace) -> int:
    info = report(args)
    db = info["database"]
    lines = [
        f"Segue {info['segue']} on Python {info['python']} ({info['platform']})",
        "packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v is not None),
        f"onnxruntime providers: {', '.join(info['providers_available'])}",
        "audio decoders, tried in turn: "
        + ", ".join(f"{name} ({info['decoder_libraries'][name]})" for name in info["decoders"]),
    ]
    if not db["exists"]:
        lines.append(
            f"database: {db['path']} does not exist yet (`segue scan FOLDER` creates it), "
            f"SQLite {info['sqlite']}"
        )
        emit(args, info, "\n".join(lines))
        return 0
    lines += [
        f"database: {db['path']} (schema {db['schema_version']}, SQLite {info['sqlite']})",
        f"  {count(db['tracks'], 'track')} ({db['missing_tracks']:,} missing), "
        f"{count(db['plays'], 'play')} "
        f"({db['unmatched_plays']} unmatched), {count(db['scan_errors'], 'scan error')}, "
        f"{info['analysis']['analysed']} analysed ({info['analysis']['pending']} pending, "
        f"{info['analysis']['failed']} undecodable)",
        "library folders: "
        + (
            ", ".join(
                f"{f['path']} ({count(f['tracks'], 'track')})"
                if f["exists"]
                else f"{f['path']} (gone)"
                for f in info["folders"]
            )
            or "none yet (`segue scan FOLDER` adds one)"
        ),
        "model: "
        + (
            f"{info['model']['id']} ({info['model']['state']})"
            if info["model"]
            else "none yet — suggestions come from the baselines"
        ),
        "serving: "
        + (
            f"model {info['serving']['model_id']} on {info['serving']['provider']}"
            if info["serving"]["serving"] == "model"
            else "the baselines"
        ),
    ]
    emit(args, info, "\n".join(lines))
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    add_command(subparsers, common, "doctor", run)
