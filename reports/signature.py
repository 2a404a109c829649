"""What one failure looks like, so that repeated failures can be counted together.

Two failures share a signature when they raise the same exception type at the
same place. "The same place" is the deepest frame of the traceback that lies in
the user's tree (under pytest's rootdir, outside the interpreter and installed
packages): that is the line a developer opens, whether the error was raised by
the test itself, by the code under test, or by a library it called. When no
frame qualifies, the test's own location stands in.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

MAX_MESSAGE_CHARS = 2000
_MAX_MESSAGE_LINES = 30


def _installed_prefixes() -> tuple[str, ...]:
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return tuple(os.path.join(os.path.realpath(p), "") for p in prefixes)


def _in_user_tree(path: str, rootdir: str, installed: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    if not real.startswith(os.path.join(rootdir, "")):
        return False
    parts = Path(real).parts
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not real.startswith(installed)


def user_location(
    frames: Iterable[tuple[str, int]], rootdir: str | os.PathLike[str], fallback: str
) -> str:
    """``file:line`` (relative to ``rootdir``) of the deepest frame in the user's tree.

    ``frames`` are ``(path, 1-based line)`` pairs, outermost first; ``fallback``
    (the test's own location) is returned when none lies in the user's tree.
    """
    root = os.path.realpath(rootdir)
    installed = _installed_prefixes()
    deepest = None
    for path, line in frames:
        if _in_user_tree(str(path), root, installed):
            deepest = (str(path), line)
    if deepest is None:
        return fallback
    relative = os.path.relpath(os.path.realpath(deepest[0]), root)
    return f"{Path(relative).as_posix()}:{deepest[1]}"


def exception_type(error: BaseException) -> str:
    """The exception's class name as the user wrote it (``AcquireTimeoutError``, ``Failed``)."""
    return type(error).__qualname__


def short_message(text: str) -> str:
    """The first lines of a failure message, enough to recognise it in a report."""
    lines = text.strip().splitlines()
    kept = "\n".join(lines[:_MAX_MESSAGE_LINES])
    if len(lines) > _MAX_MESSAGE_LINES:
        kept += "\n..."
    if len(kept) > MAX_MESSAGE_CHARS:
        kept = kept[:MAX_MESSAGE_CHARS] + "..."
    return kept


def type_from_crash_line(line: str) -> str:
    """The exception type in pytest's one-line crash summary ``Type: message``.

    Used when the exception object itself is not at hand (a report that
    crossed a process boundary); ``Error`` when the line names no type.
    """
    head = line.strip().split(":", 1)[0].strip()
    name = head.rsplit(".", 1)[-1]
    return name if name.isidentifier() else "Error"
