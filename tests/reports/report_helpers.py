"""Shared helpers of the audit and phase-report tests: the foreign tree, the CLI, Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateproof.testing.ci import in_ci

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
# what makes `gateproof report` talk to GitHub Actions: a test sets them itself, or none
GITHUB_VARIABLES = ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")


def foreign_tree(tmp_path: Path) -> Path:
    """A copy of the foreign gateway (its own `app` package, conftest files, failing tests).

    Its gate and mapping files for tests are copied beside it, in ``foreign_gates/``.
    """
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    return tmp_path / "fixtures" / "foreign_gateway"


def gateproof(
    *args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in its own process.

    The GitHub Actions variables of the job running the tests are not passed
    on (a test gate must not append to that job's summary); ``env`` adds some.
    """
    environment = {k: v for k, v in os.environ.items() if k not in GITHUB_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "gateproof", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environment, **(env or {})},
    )


def chromium() -> str:
    """The headless browser the HTML tests open pages in (scripts/ensure-chromium.sh installs it).

    Missing, the test fails under CI and is skipped elsewhere.
    """
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if in_ci():
            pytest.fail("no chromium on PATH: scripts/ensure-chromium.sh should have installed it")
        pytest.skip("no chromium on PATH (apt-get install chromium); CI installs it")
    return browser


def rendered_dom(page: Path) -> str:
    """The page's DOM after headless Chromium has loaded it (``--dump-dom``)."""
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "<body" in done.stdout, done.stderr[-2000:]
    return done.stdout
