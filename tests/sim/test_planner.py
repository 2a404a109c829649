"""The planner's search: offered load, the size grid, and min_capacity for a cold-start limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.loading import load_scenario
from sim.planner import default_sizes, offered_load, plan_capacity

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_offered_load_is_the_time_averaged_rate_times_the_mean_service() -> None:
    storm = load_scenario(SCENARIOS / "cold-start-storm.yaml")
    assert offered_load(storm, "thumbnail") == pytest.approx((110 / 120) * 120 * 0.1)


def test_the_default_grid_has_ten_sizes_above_the_offered_load() -> None:
    sizes = default_sizes(9.5)
    assert len(sizes) == 10 and sizes[0] == 10 and sizes == sorted(sizes)


def test_a_cold_start_limit_is_met_by_keeping_workers_warm() -> None:
    scenario = load_scenario(
        SCENARIOS / "cold-start-storm.yaml",
        ["slo={p99: 5.0, cold_start_rate: 0.0003}", "duration=60"],
    )
    plan = plan_capacity(scenario, sizes=[16], replications=2, workers=1)["thumbnail"]
    assert plan.max_capacity == 16
    assert plan.min_capacity is not None and plan.min_capacity > 0
    passing = [p for p in plan.min_points if p.met]
    assert min(p.min_capacity for p in passing) == plan.min_capacity
    assert all(p.metrics["cold_start_rate"].mean <= 0.0003 for p in passing)
    assert all(not p.met for p in plan.min_points if p.min_capacity < plan.min_capacity)


def test_every_size_gets_the_same_streams_in_process_and_in_a_process_pool() -> None:
    scenario = load_scenario(SCENARIOS / "steady.yaml", ["duration=30", "warmup=0"])
    in_process = plan_capacity(scenario, sizes=[6, 7], replications=2, workers=1)
    pooled = plan_capacity(scenario, sizes=[6, 7], replications=2, workers=2)
    for name, plan in in_process.items():
        assert [p.metrics for p in plan.points] == [p.metrics for p in pooled[name].points]
        # common random numbers: both sizes see the same arrivals
        arrivals = {p.metrics["arrivals"].mean for p in plan.points}
        assert len(arrivals) == 1
