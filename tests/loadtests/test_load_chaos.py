"""The chaos run: workers killed under load cost calls only in the gateway's own terms."""

from __future__ import annotations

from pathlib import Path

import pytest
from load_helpers import gateproof_load, write_scenario

pytestmark = pytest.mark.slow

GATEWAY_ERRORS = {"502", "503", "504"}


def test_killing_workers_under_load_breaks_no_guarantee(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    run = gateproof_load(
        scenario,
        "--target", "local",
        "--chaos", "kill-workers:2",
        "--set", "duration=14",
        "--set", "slo.p99=60",  # replacing a killed worker takes a cold start: slow, not wrong
        "--set", "slo.error_rate=1",
        "--no-predict",
        out=tmp_path / "out",
    )  # fmt: skip

    assert run.status == 0, run.stdout + run.stderr
    report = run.report
    assert report["chaos"]["killed"] >= 4
    statuses = report["overall"]["responses_by_status"]
    assert set(statuses) - {"200"} <= GATEWAY_ERRORS, statuses
    assert sum(statuses.values()) == report["overall"]["requests"]
    assert report["contract"] == {
        "held": True,
        "broken": {},
        "examples": {},
        "connection_errors": 0,
    }
    bad_gateway = report["overall"]["bad_gateway"]
    assert bad_gateway["total"] == statuses.get("502", 0)
    assert bad_gateway["never_reached_worker"] == 0, bad_gateway  # the gateway retried them
    assert f"502 answers: {bad_gateway['total']} ({bad_gateway['reached_worker']} " in run.stdout
    assert report["after"]["leftovers"] == []
    pools = report["after"]["status"]["pools"]
    assert set(pools) == {"echo", "resize"}
    for pool in pools.values():
        assert pool["total"] <= pool["max_capacity"]
        assert pool["busy"] == 0


def test_chaos_needs_a_gateway_it_started(tmp_path: Path) -> None:
    run = gateproof_load(
        write_scenario(tmp_path),
        "--host", "http://127.0.0.1:9",
        "--chaos", "kill-workers:1",
        out=tmp_path / "out",
    )  # fmt: skip
    assert run.status == 2
    assert "use --target local or docker" in run.stderr


def test_a_malformed_chaos_option_shows_the_form(tmp_path: Path) -> None:
    run = gateproof_load(
        write_scenario(tmp_path), "--target", "local", "--chaos", "kill-all", out=tmp_path / "o"
    )
    assert run.status == 2
    assert "write kill-workers:EVERY_S" in run.stderr
