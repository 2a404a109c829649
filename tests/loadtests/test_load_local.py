"""`gateproof load --target local`: the run, its files, its own accounting and the SLO gate.

How fast this machine serves is not judged here (that is `gateproof bench`'s job):
the run is held to its own books instead, every arrival it sent answered and counted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from load_helpers import gateproof_load, write_scenario

pytestmark = pytest.mark.slow


def test_a_run_against_the_local_gateway_keeps_its_books_and_writes_every_report(
    tmp_path: Path,
) -> None:
    scenario = write_scenario(tmp_path)
    run = gateproof_load(
        scenario,
        "--target", "local",
        "--set", "slo.p99=60",  # latency is the machine's: only errors may fail this run
        out=tmp_path / "out",
    )  # fmt: skip

    assert run.status == 0, run.stderr
    assert {"load.json", "locust_stats.csv", "locust.html", "compare.md", "compare.png"} <= (
        run.files()
    )
    assert "host http://127.0.0.1:" in run.stdout
    report = run.report
    assert report["complete"] is True
    assert report["slo"]["met"] is True
    overall = report["overall"]
    assert overall["target_rate"] == pytest.approx(75.0)
    # every arrival sent in the measured window was answered and counted, but for the calls
    # in flight at its two ends (at most one per user at each)
    sent, answered = report["lag"]["arrivals"], overall["requests"]
    assert abs(sent - answered) <= report["max_users"], (sent, answered, report["max_users"])
    assert answered == sum(report["functions"][name]["requests"] for name in ("echo", "resize"))
    assert 0 <= report["lag"]["late"] <= sent
    assert report["rate_sustained"] == (overall["achieved_rate"] >= 0.9 * overall["target_rate"])
    for name, rate in (("echo", 60.0), ("resize", 15.0)):
        function = report["functions"][name]
        assert function["target_rate"] == pytest.approx(rate)
        assert function["requests"] > 0
        assert function["errors_by_status"] == {}
        assert 0 < function["p50"] <= function["p99"]
    assert report["after"]["leftovers"] == []
    predicted = report["predicted"]["functions"]["echo"]
    assert set(predicted) == {"mean", "p50", "p95", "p99", "timeout rate", "error rate"}
    assert "| echo | p99 |" in (run.out / "compare.md").read_text()


def test_an_impossible_slo_fails_the_run_with_one_line_per_broken_limit(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    run = gateproof_load(
        scenario,
        "--target", "local",
        "--set", "duration=8",
        "--set", "slo.p99=0.000001",
        "--no-predict",
        out=tmp_path / "out",
    )  # fmt: skip

    assert run.status == 1, run.stderr
    broken = [line for line in run.stderr.splitlines() if line.startswith("SLO broken")]
    assert sorted(line.split()[2:4] for line in broken) == [
        ["echo", "latency_p99"],
        ["resize", "latency_p99"],
    ]
    assert "> limit 0.0 ms" in broken[0]
    assert run.report["slo"]["met"] is False
