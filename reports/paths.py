"""Paths as reports show them: relative to where the command ran, so reports travel."""

from __future__ import annotations

import os
from pathlib import Path


def shown(path: str | Path, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the current directory) when it lies inside it."""
    absolute = Path(path).absolute()
    base = (base or Path.cwd()).absolute()
    if absolute == base:
        return "."
    if absolute.is_relative_to(base):
        return absolute.relative_to(base).as_posix()
    return os.fspath(absolute) if os.sep in os.fspath(path) or Path(path).exists() else str(path)
