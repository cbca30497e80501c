"""CLI: placeholder, filled in by its issue."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Nothing yet."""
