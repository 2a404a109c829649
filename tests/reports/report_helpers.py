"""Shared helpers of the audit and phase-report tests: the foreign tree and running the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def foreign_tree(tmp_path: Path) -> Path:
    """A copy of the foreign gateway (its own `app` package, conftest files, failing tests).

    Its gate and mapping files for tests are copied beside it, in ``foreign_gates/``.
    """
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    return tmp_path / "fixtures" / "foreign_gateway"


def gateproof(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "gateproof", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
