"""The legacy gateway serves the same API, so the same scenario runs against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from load_helpers import gateproof_load, write_scenario

pytestmark = pytest.mark.slow


def test_the_same_scenario_runs_against_the_legacy_gateway(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    run = gateproof_load(
        scenario, "--target", "legacy", "--set", "duration=8", "--no-predict", out=tmp_path / "out"
    )

    assert run.status == 0, run.stderr
    report = run.report
    assert report["target"] == "legacy"
    assert report["functions"]["echo"]["requests"] > 200
    assert report["functions"]["resize"]["requests"] > 30
    assert report["overall"]["responses_by_status"].get("200", 0) > 200
    assert report["after"]["leftovers"] == []
