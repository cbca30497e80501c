"""Another revision of this repository checked out beside it, for the A/B benchmarks
(`train_ab.py`, `retrain_ab.py`): the revision resolved to its commit, a temporary git
worktree of it, removed when done."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commit_of(rev: str) -> str | None:
    """The commit *rev* names (a commit, a tag, a branch), or None when it names none."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() if found.returncode == 0 else None


@contextmanager
def worktree(commit: str, path: Path) -> Iterator[Path]:
    """*commit* checked out (detached) at *path* for the block, then removed."""
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(path), commit], cwd=ROOT, check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT)
