"""The breaker conformance suite passes the reference breaker, names the legacy breaker's
defects, and runs on breakers of the shapes found in the wild (tests/foreign/breakers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateproof.testing.breaker_adapter import LEGACY_BREAKER_IMPL

REPO = Path(__file__).resolve().parents[2]
BREAKERS = REPO / "tests" / "foreign" / "breakers"
UNUSED_PLUGINS = ("-p", "no:schemathesis", "-p", "no:locust", "-p", "no:cacheprovider")


def run_suite(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/breaker",
            "-q",
            "--tb=line",
            *UNUSED_PLUGINS,
            *list(options),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(BREAKERS)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_reference_breaker_keeps_every_rule():
    result = run_suite()

    assert result.returncode == 0, result.stdout[-3000:]
    assert "11 passed" in result.stdout


def test_the_legacy_breaker_fails_naming_both_of_its_defects():
    result = run_suite("--breaker-impl", LEGACY_BREAKER_IMPL)

    assert result.returncode == 1, result.stdout[-3000:]
    assert "failures never forgotten after a success" in result.stdout
    assert "half-open let every caller through: 5 of 5 calls ran at once" in result.stdout
    assert "half-open let 5 of 5 calls through at once, half_open_max_calls=2" in result.stdout
    assert "4 failed, 7 passed" in result.stdout


@pytest.mark.parametrize(
    "adapter",
    [
        "callbreaker_adapter:make_breaker",  # async call(func), its own error, time.time()
        "syncbreaker_adapter:make_breaker",  # sync call(func), from time import monotonic
        "recordbreaker_adapter:make_breaker",  # can_execute/on_success/on_failure, injected clock
    ],
)
def test_breakers_of_the_common_shapes_are_adapted_in_a_few_lines_and_pass(adapter):
    result = run_suite("--breaker-impl", adapter)

    assert result.returncode == 0, result.stdout[-3000:]
    module = BREAKERS / f"{adapter.split(':')[0]}.py"
    assert len([line for line in module.read_text().splitlines() if line.strip()]) <= 20


def test_a_rate_breaker_that_never_forgets_its_successes_is_flagged():
    """Opening only from a clean window passed it; failures after a healthy stretch do not."""
    result = run_suite("--breaker-impl", "ratebreaker_adapter:make_breaker")

    assert result.returncode == 1, result.stdout[-3000:]
    assert (
        "did not open after 3 consecutive failures that followed 30 successes: "
        "old successes are never forgotten"
    ) in result.stdout
    assert "did not open again after 3 consecutive failures once it had closed" in result.stdout
    assert "2 failed, 9 passed" in result.stdout


def test_a_bad_breaker_impl_is_a_usage_error_that_says_what_to_type():
    result = run_suite("--breaker-impl", "recordbreaker_adapter")

    assert result.returncode == 4
    assert "--breaker-impl 'recordbreaker_adapter' is not of the form module:factory" in (
        result.stderr
    )
