"""Segue's SQLite store: one file, WAL, forward migrations; all SQL lives in this package."""

from player_plugin.store.db import SCHEMA_VERSION, default_db_path, open_db

__all__ = ["SCHEMA_VERSION", "default_db_path", "open_db"]
