"""The model's outputs on the shipped scenarios behave as the scenarios describe."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scenarios.loading import load_scenario, parse_scenario
from sim.histogram import LatencyHistogram
from sim.model import run_replication
from sim.report import format_summary
from sim.results import summarise

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


def slow_function(**extra: object) -> dict:
    """A function whose every call (2 s) runs past its 0.5 s ``timeout_seconds``."""
    return {
        "name": "slow",
        "duration": 60,
        "functions": {
            "slow": {
                "scaling": {"max_capacity": 4, "min_capacity": 1, "acquire_timeout": 5.0},
                "service": {"kind": "constant", "value": 2.0},
                "cold_start": {"kind": "constant", "value": 0.1},
                "timeout_seconds": 0.5,
            }
        },
        "workload": {"slow": {"arrivals": {"kind": "poisson", "rate": 2.0}}},
        **extra,
    }


def test_a_call_past_timeout_seconds_is_a_worker_timeout_and_evicts_its_worker() -> None:
    result = run_replication(parse_scenario(slow_function()), 1)
    slow = result["functions"]["slow"]
    assert slow["served"] == 0
    assert slow["worker_timeouts"] == slow["errors"] > 50  # every granted call, counted as errors
    assert slow["timeouts"] == 0  # acquire timeouts are a different count
    assert slow["worker_timeout_rate"] == slow["worker_timeouts"] / slow["arrivals"]
    assert result["overall"]["worker_timeouts"] == slow["worker_timeouts"]
    # each worker is evicted after one call: every call but the first gets a cold start
    assert slow["cold_starts"] >= slow["worker_timeouts"] - 1
    assert slow["provisions"] >= slow["worker_timeouts"] - 1
    assert slow["latency_p50"] < 2.0  # the call ends at its timeout, not after the service
    assert slow["utilisation"] < 0.5 * 2.0 * 1.05 / 4  # busy 0.5 s per call, not 2 s
    series = result["series"]["functions"]["slow"]
    assert sum(series["worker_timeouts"]) >= slow["worker_timeouts"]


def test_worker_timeouts_are_failures_for_the_breaker() -> None:
    breaker = {"failure_rate_threshold": 0.5, "window_size": 10, "minimum_calls": 5}
    result = run_replication(parse_scenario(slow_function(breaker=breaker)), 1)
    slow = result["functions"]["slow"]
    assert slow["worker_timeouts"] > 0
    assert slow["breaker_trips"] >= 1
    assert slow["rejections"] > 0


def test_a_latency_fault_past_timeout_seconds_times_calls_out_inside_its_window() -> None:
    result = replicate(
        "steady",
        "functions.echo.timeout_seconds=2.0",
        "faults=[{kind: latency, function: echo, start: 100, duration: 50, "
        "extra: {kind: constant, value: 2.5}}]",
    )
    echo = result["functions"]["echo"]
    timed_out = result["series"]["functions"]["echo"]["worker_timeouts"]
    assert echo["worker_timeouts"] > 10
    # calls granted in [100, 150) end 2 s later; the service alone never reaches 2 s
    assert sum(timed_out[:100]) == 0 and sum(timed_out[152:]) == 0
    assert sum(timed_out[100:152]) == sum(timed_out)
    assert echo["breaker_trips"] >= 1  # the gateway's breaker opens on the 504s
    assert result["functions"]["resize"]["worker_timeouts"] == 0  # not in the fault


def test_the_summary_table_shows_worker_timeouts_only_when_there_are_some() -> None:
    slow = parse_scenario(slow_function(duration=20))
    fast = parse_scenario(
        slow_function(
            duration=20, functions={"slow": {"service": {"kind": "constant", "value": 0.1}}}
        )
    )
    with_timeouts = format_summary(summarise(slow, 1, [run_replication(slow, 1)]))
    without = format_summary(summarise(fast, 1, [run_replication(fast, 1)]))
    assert "worker timeout %" in with_timeouts.splitlines()[1]
    assert "worker timeout %" not in without and "timeout %" in without


def test_a_replication_leaves_its_seed_sequence_as_it_was() -> None:
    scenario = load_scenario(SCENARIOS / "steady.yaml", ["duration=30", "warmup=0"])
    seed = np.random.SeedSequence(7).spawn(1)[0]
    first = run_replication(scenario, seed)
    second = run_replication(scenario, seed)
    assert seed.n_children_spawned == 0
    assert first["functions"] == second["functions"]
    assert first["series"] == second["series"]


def test_a_calls_overhead_adds_to_its_latency_but_not_to_its_workers_busy_time() -> None:
    plain = replicate("steady", "duration=60", "warmup=10")["functions"]["echo"]
    slower = replicate(
        "steady",
        "duration=60",
        "warmup=10",
        "functions.echo.overhead={kind: constant, value: 0.004}",
    )["functions"]["echo"]
    assert slower["latency_mean"] == pytest.approx(plain["latency_mean"] + 0.004, rel=1e-3)
    assert slower["utilisation"] == plain["utilisation"]  # same draws, same worker time
