"""SIGTERM handled like Ctrl-C, so a cancelled run cleans up as an interrupted one does.

Why: a CI job that is cancelled, or a user's ``kill``, sends SIGTERM, whose
default action ends Python at once: no ``finally`` runs, so a command's
temporary copy, its child process group (mutmut, pytest, a gateway) and its
partial report would be left behind. Raised as :class:`KeyboardInterrupt`,
it takes the path every command already has for Ctrl-C.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["sigterm_as_interrupt"]


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises ``KeyboardInterrupt`` (main thread only; elsewhere a no-op)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
