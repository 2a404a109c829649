"""The model's outputs on the shipped scenarios behave as the scenarios describe."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scenarios.loading import load_scenario
from sim.histogram import LatencyHistogram
from sim.model import run_replication

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def replicate(name: str, *overrides: str, seed: int = 1) -> dict:
    return run_replication(load_scenario(SCENARIOS / f"{name}.yaml", overrides), seed)


def test_failing_function_trips_the_gateway_breaker_and_recovers() -> None:
    result = replicate("failing-function")
    payments = result["functions"]["payments"]
    transitions = result["transitions"]["payments"]
    assert payments["breaker_trips"] >= 1
    assert payments["rejections"] > 0
    assert all(60 <= at <= 90 for at, _ in transitions)  # only around the 20 s fault window
    assert transitions[-1][1] == "closed"  # healthy again after the fault
    breaker = result["series"]["functions"]["payments"]["breaker"]
    assert max(breaker[:59]) == 0 and max(breaker[61:85]) == 2 and max(breaker[100:]) == 0


def test_a_cold_start_storm_cold_starts_workers_up_to_max_capacity() -> None:
    result = replicate("cold-start-storm")
    thumbnail = result["functions"]["thumbnail"]
    assert thumbnail["cold_starts"] > 0
    assert thumbnail["timeouts"] > 0  # the 1 s acquire timeout covers the ~1.5 s cold start
    assert thumbnail["peak_workers"] == 20
    assert thumbnail["provisions"] >= 20
    workers = result["series"]["functions"]["thumbnail"]["workers"]
    assert workers[5] == 0 and workers[-1] > 0  # nothing warm before traffic arrives


def test_idle_workers_are_pruned_after_the_spike() -> None:
    result = replicate("spike")
    echo = result["functions"]["echo"]
    workers = result["series"]["functions"]["echo"]["workers"]
    assert echo["pruned"] > 0
    assert max(workers[120:160]) == 30  # the spike grew the pool to max_capacity
    assert 8 <= workers[-1] < 20  # idle eviction shrank it, never below min_capacity


def test_a_latency_fault_raises_latency_inside_its_window() -> None:
    result = replicate(
        "steady",
        "faults=[{kind: latency, function: echo, start: 100, duration: 50, "
        "extra: {kind: constant, value: 0.5}}]",
    )
    latency = result["series"]["functions"]["echo"]["latency_mean"]
    assert min(latency[105:145]) > 0.5
    assert max(latency[40:95]) < 0.5


def test_crashing_workers_are_evicted_and_replaced() -> None:
    result = replicate(
        "steady",
        "faults=[{kind: worker_crash, function: echo, start: 0, duration: 300, rate: 0.01}]",
    )
    echo = result["functions"]["echo"]
    assert echo["error_rate"] > 0.009  # crashes fail their request
    assert echo["provisions"] > 0  # the janitor tops the pool back up to min_capacity


def test_the_histogram_keeps_percentiles_within_its_precision() -> None:
    values = np.random.default_rng(3).lognormal(-3, 1, 200_000)
    histogram = LatencyHistogram()
    for value in values.tolist():
        histogram.record(value)
    for percent in (50, 95, 99):
        assert histogram.percentile(percent) == pytest.approx(
            np.percentile(values, percent), rel=2e-3
        )
    assert histogram.mean == pytest.approx(values.mean(), rel=1e-12)
    copy = LatencyHistogram.decode(histogram.encode())
    assert copy.count == 200_000 and copy.percentile(99) == histogram.percentile(99)


def test_an_empty_histogram_has_no_percentiles() -> None:
    histogram = LatencyHistogram()
    assert histogram.count == 0 and math.isnan(histogram.percentile(99))


def test_memory_does_not_grow_with_the_number_of_requests() -> None:
    import tracemalloc

    from sim.mmc import mmc_scenario

    def peak(duration: float) -> int:
        scenario = mmc_scenario(servers=5, arrival_rate=40.0, service_mean=0.1, duration=duration)
        tracemalloc.start()
        run_replication(scenario, 1)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(200), peak(2_000)  # 8k and 80k requests
    assert large < small * 1.5 + 2_000_000, (small, large)
