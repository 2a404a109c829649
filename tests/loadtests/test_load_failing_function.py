"""The shipped `failing-function` scenario, shortened: the breaker's 503s show in the breakdown."""

from __future__ import annotations

from pathlib import Path

import pytest
from load_helpers import gateproof_load

pytestmark = pytest.mark.slow

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_the_breaker_rejections_of_a_failing_function_are_counted_by_code(tmp_path: Path) -> None:
    run = gateproof_load(
        SCENARIOS / "failing-function.yaml",
        "--target", "local",
        "--set", "duration=14",
        "--set", "faults.0.start=2",
        "--set", "faults.0.duration=8",
        "--set", "faults.0.rate=0.9",
        "--set", "slo.error_rate=0.01",
        "--no-predict",
        out=tmp_path / "out",
    )  # fmt: skip

    assert run.status == 1, run.stdout + run.stderr  # the failures break the error-rate SLO
    assert "SLO broken: payments error_rate" in run.stderr
    payments = run.report["functions"]["payments"]
    assert payments["errors_by_code"]["function_error"] > 0
    assert payments["errors_by_code"]["circuit_open"] > 0
    assert payments["errors_by_status"]["503"] >= payments["errors_by_code"]["circuit_open"]
    assert payments["rejection_rate"] > 0
    assert "circuit_open" in run.stdout  # the summary's errors by code
