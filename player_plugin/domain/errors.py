"""The base of Segue's own errors: one line for people, and the path or key it is about.

Every layer raises a subclass (a tag, decode or analysis error, a store or registry error,
a history file in no known format); the command line turns any :class:`SegueError` into
one line on stderr and an exit code, and the GUI shows the same line.
"""

from __future__ import annotations

import os


class SegueError(Exception):
    """A failure with a clear cause. ``subject`` is the path (bytes) or key it is about,
    ``reason`` the cause in words; ``str()`` gives the one line a person reads."""

    def __init__(self, reason: str, subject: bytes | str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.subject = subject

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take other arguments; rebuild from the state (errors cross processes).
        return (_rebuild, (type(self), self.args, self.__dict__))

    @property
    def path(self) -> bytes | None:
        """The file this error is about, as bytes, when it is about one."""
        if isinstance(self.subject, bytes):
            return self.subject
        return None

    def __str__(self) -> str:
        if self.subject is None or self.subject == "":
            return self.reason
        shown = (
            self.subject.decode("utf-8", errors="replace")
            if isinstance(self.subject, bytes)
            else os.fspath(self.subject)
        )
        return f"{shown}: {self.reason}"


def _rebuild(
    cls: type[SegueError], args: tuple[object, ...], state: dict[str, object]
) -> SegueError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error
