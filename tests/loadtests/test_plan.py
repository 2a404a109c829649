"""The load plan: open-model arrivals at the scenario's rates, users that follow its shape."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from loadtests.plan import HEADROOM_S, LoadPlan, PlanError, runtime_environment
from scenarios import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _plan(name: str, *overrides: str, inject: bool = True) -> LoadPlan:
    return LoadPlan(load_scenario(SCENARIOS / f"{name}.yaml", overrides), inject=inject)


def _arrivals(plan: LoadPlan, seed: int = 1) -> list[float]:
    """Every arrival of every user, as the Locust users schedule them (users fixed at t=0)."""
    rng = random.Random(seed)
    times = []
    for _ in range(plan.users(0.0)):
        t = plan.next_arrival(0.0, rng)
        while t < math.inf:
            times.append(t)
            t = plan.next_arrival(t, rng)
    return times


def test_the_users_together_arrive_at_the_scenarios_rate() -> None:
    plan = _plan("steady", "duration=60", "warmup=0")
    arrivals = _arrivals(plan)
    assert len(arrivals) / 60 == pytest.approx(132, rel=0.05)
    assert plan.users(0) == math.ceil(132 * HEADROOM_S)


def test_the_shape_follows_steps_and_spikes() -> None:
    storm = _plan("cold-start-storm")
    assert storm.users(5) == 1  # rate 0: one idle user
    assert storm.users(10) == storm.max_users == math.ceil(120 * HEADROOM_S)
    assert storm.next_arrival(0.0, random.Random(0)) >= 10.0  # nobody arrives before the step
    spike = _plan("spike")
    assert spike.users(130) == 5 * spike.users(10)
    assert spike.total_rate(130) == 300


def test_arrivals_pick_functions_in_proportion_to_their_rates() -> None:
    plan = _plan("steady")
    rng = random.Random(3)
    picks = [plan.pick(50.0, rng) for _ in range(20_000)]
    assert picks.count("resize") / len(picks) == pytest.approx(28 / 132, rel=0.05)


def test_on_the_reference_a_fault_window_is_sent_with_each_call() -> None:
    plan = _plan("failing-function", "faults.0.rate=1.0")
    rng = random.Random(0)
    inside = json.loads(plan.body("payments", 65.0, rng))
    assert inside["fail"] is True
    outside = [json.loads(plan.body("payments", 10.0, rng)) for _ in range(100)]
    assert sum("fail" in body for body in outside) <= 3  # its error_rate is 0.001


def test_service_times_the_runtime_cannot_draw_are_sent_per_call() -> None:
    plan = _plan("steady")
    rng = random.Random(0)
    assert "sleep_ms" not in json.loads(plan.body("echo", 1.0, rng))  # the worker draws it
    assert json.loads(plan.body("resize", 1.0, rng))["sleep_ms"] > 0  # gamma: drawn here
    env = runtime_environment(plan.scenario, "echo")
    assert env["GATEPROOF_FUNCTION"] == "sleep"
    assert env["GATEPROOF_SLEEP_DISTRIBUTION"].startswith("lognormal:50:0.77")
    assert "GATEPROOF_SLEEP_DISTRIBUTION" not in runtime_environment(plan.scenario, "resize")


def test_against_staging_only_the_scenarios_payload_is_sent() -> None:
    plan = _plan("failing-function", "faults.0.rate=1.0", inject=False)
    assert plan.body("payments", 65.0, random.Random(0)) == b""
    steady = _plan("steady", inject=False)
    assert json.loads(steady.body("echo", 1.0, random.Random(0))) == {"message": "hello"}
    assert steady.request("resize").path == "/images/resize"
    assert steady.request("echo").path == "/2015-03-31/functions/echo/invocations"


def test_a_replayed_trace_is_refused_with_what_to_use_instead(tmp_path: Path) -> None:
    (tmp_path / "times.txt").write_text("0.1\n0.2\n")
    scenario = parse_scenario(
        {
            "name": "t",
            "duration": 5,
            "functions": {"f": {"service": {"kind": "constant", "value": 0.01}}},
            "workload": {"f": {"arrivals": {"kind": "trace", "file": "times.txt"}}},
        },
        base_dir=tmp_path,
    )
    with pytest.raises(PlanError, match="trace arrivals cannot be replayed"):
        LoadPlan(scenario, inject=False)
