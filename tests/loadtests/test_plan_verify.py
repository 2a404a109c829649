"""`gateproof plan --verify`: the recommendation load tested at N and N-1, and the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from load_helpers import gateproof

from loadtests.verify import SizeRun, judge

# 50 req/s of a 50 ms function: 2.5 workers busy on average, so 2 workers cannot keep up
# (at most 40 req/s) on any machine: N-1 = 2 must miss, whatever the machine's speed.
TINY = """\
name: tiny
duration: 20
warmup: 2
seed: 5
replications: 2
functions:
  echo:
    scaling: {max_capacity: 4, min_capacity: 4, acquire_timeout: 0.5, idle_timeout: 300}
    service: {kind: constant, value: 0.05}
workload:
  echo:
    arrivals: {kind: poisson, rate: 50}
slo: {p99: 0.3, timeout_rate: 0.01}
"""


def size_run(n: int, p99: float, limit: float = 0.3) -> SizeRun:
    check = {"metric": "latency_p99", "limit": limit, "value": p99, "ok": p99 <= limit}
    return SizeRun(n, check["ok"], [check], {"p99": p99, "half_widths": {"p99": 0.05}})


def test_the_verdicts_name_the_side_that_disagrees_and_by_how_much() -> None:
    smallest = judge("echo", size_run(5, 0.2), size_run(4, 0.45))
    assert smallest.holds and smallest.as_dict()["smallest"]
    assert smallest.verdict.startswith(
        "echo: 5 meets the SLO, 4 misses it: the recommendation is the smallest that holds"
    )
    assert "latency_p99 450.0 ms [400.0 ms, 500.0 ms] > 300.0 ms (+50%)" in smallest.verdict
    generous = judge("echo", size_run(5, 0.2), size_run(4, 0.25))
    assert generous.holds and not generous.as_dict()["smallest"]
    assert "4 meets it too: the model over-sizes by at least one worker" in generous.verdict
    missed = judge("echo", size_run(5, 0.36), size_run(4, 0.9))
    assert not missed.holds
    assert "5 misses the SLO for real (latency_p99 360.0 ms [310.0 ms, 410.0 ms] > 300.0 ms" in (
        missed.verdict
    )


def test_verification_against_a_host_is_refused_before_anything_runs(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    done = gateproof(
        "plan", scenario, "--verify", "--host", "http://127.0.0.1:9", "--out", tmp_path
    )
    assert done.returncode == 2
    assert "needs a target whose pool gateproof sizes" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "plan.json").exists()  # refused before planning


@pytest.mark.slow
def test_a_shortened_verification_runs_n_and_n_minus_1_and_reports(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    done = gateproof(
        "plan", scenario, "--sizes", "2,3,4", "--verify", "--target", "local",
        "--verify-seconds", "8", "-q", "--out", tmp_path / "out",
    )  # fmt: skip
    report = json.loads((tmp_path / "out" / "verify.json").read_text())
    (function,) = report["functions"]
    assert [run["max_capacity"] for run in function["runs"]] == [3, 2]  # the model picks 3
    at_n, below = function["runs"]
    assert below["met"] is False  # 2 workers serve at most 40 of the 50 req/s
    assert below["measured"]["requests"] > 0 and at_n["measured"]["requests"] > 0
    assert done.returncode == (0 if function["holds"] else 1), done.stderr
    assert function["verdict"] in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verify"], "plan --verify needs --target local or docker"),
        (["--verify", "--target", "legacy"], "plan --verify needs --target local or docker"),
        (["--target", "local"], "--target, --host and --verify-seconds go with --verify"),
        (["--verify", "--target", "local", "--verify-seconds", "1"], "at least 5"),
    ],
)
def test_verification_options_are_checked_before_planning(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateproof.cli import main

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    assert main(["plan", str(scenario), *args, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "plan.json").exists()
