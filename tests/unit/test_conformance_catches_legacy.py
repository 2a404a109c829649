"""The pool conformance suite passes the reference pool and catches the legacy pool's defects.

Both runs are real pytest subprocesses over ``tests/stress`` with ``--pool-impl``;
the legacy run goes through pytest-xdist workers, so the option must reach them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE = "tests/stress"
# Plugins the suite does not use, left out to save their start-up in every (xdist) process.
UNUSED_PLUGINS = ("-p", "no:schemathesis", "-p", "no:locust", "-p", "no:cacheprovider")
LEGACY = "reference.legacy.pool:LegacyPool"


def run_suite(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", SUITE, "-q", *UNUSED_PLUGINS, *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_suite_passes_against_the_reference_pool():
    result = run_suite()

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_the_suite_fails_against_the_legacy_pool_naming_both_defects():
    result = run_suite("--pool-impl", LEGACY, "-n", "1")
    output = result.stdout + result.stderr

    assert result.returncode == 1, output[-3000:]
    assert "evicted worker handed out again" in output, "the eviction defect went unnamed"
    assert "pool exceeded max_capacity after a release of an evicted worker" in output, (
        "the over-capacity defect went unnamed"
    )
    assert "release of an evicted worker accepted" in output
    assert "release of a drained worker accepted" in output


def test_a_bad_pool_impl_is_a_usage_error_that_says_what_to_type():
    result = run_suite("--pool-impl", "reference.legacy.pool")

    assert result.returncode == 4  # pytest's usage error
    assert "is not of the form module:factory" in result.stderr
