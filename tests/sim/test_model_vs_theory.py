"""The model reproduces exact queueing results: the 95% CI over replications holds the truth.

Seeds are fixed, so each check is deterministic; the sizes (10 replications of
40-80 thousand callers) make the intervals narrow enough to catch a wrong rule
(a LIFO queue, a timeout that forgets the cold start, a lost wake-up) and wide
enough to be honest about the noise.
"""

from __future__ import annotations

import pytest

from sim.mmc import mmc_scenario
from sim.queueing import NO_TIMEOUT, erlang_c, mmcd
from sim.replications import simulate
from sim.results import Estimate

REPLICATIONS = 10


def assert_contains(estimate: Estimate, exact: float, what: str) -> None:
    assert estimate.contains(exact), (
        f"{what}: exact {exact:.5f} outside the 95% CI "
        f"[{estimate.low:.5f}, {estimate.high:.5f}] (mean {estimate.mean:.5f})"
    )


def run(arrival_rate: float, acquire_timeout: float, duration: float) -> dict[str, Estimate]:
    scenario = mmc_scenario(
        servers=5,
        arrival_rate=arrival_rate,
        duration=duration,
        warmup=200,
        acquire_timeout=acquire_timeout,
    )
    return simulate(scenario, replications=REPLICATIONS, seed=7).functions["f"]


def test_m_m_5_at_utilisation_0_8_matches_erlang_c() -> None:
    metrics = run(4.0, NO_TIMEOUT, duration=20_000)
    exact = erlang_c(5, 4.0, 1.0)
    assert_contains(metrics["wait_probability"], exact.wait_probability, "P(wait)")
    assert_contains(metrics["wait_mean"], exact.mean_wait, "mean wait")
    assert_contains(metrics["wait_p95"], exact.wait_quantile(0.95), "p95 wait")
    assert_contains(metrics["utilisation"], 0.8, "utilisation")
    assert metrics["timeout_rate"].mean == 0


def test_m_m_5_with_a_half_second_acquire_timeout_matches_m_m_5_plus_d() -> None:
    metrics = run(4.0, 0.5, duration=20_000)
    exact = mmcd(5, 4.0, 1.0, 0.5)
    assert_contains(metrics["timeout_rate"], exact.timeout_probability, "P(timeout)")
    assert_contains(metrics["wait_mean"], exact.mean_wait_served, "mean wait of served")
    assert_contains(metrics["wait_probability"], exact.served_wait_probability, "P(wait | served)")


def test_overload_at_utilisation_1_2_with_a_two_second_timeout_matches_m_m_5_plus_d() -> None:
    metrics = run(6.0, 2.0, duration=10_000)
    exact = mmcd(5, 6.0, 1.0, 2.0)
    assert_contains(metrics["timeout_rate"], exact.timeout_probability, "P(timeout)")
    assert_contains(metrics["wait_mean"], exact.mean_wait_served, "mean wait of served")
    assert metrics["wait_p99"].high <= 2.0 + 1e-3  # nobody waits longer than the timeout


@pytest.mark.parametrize("acquire_timeout", [0.5, NO_TIMEOUT])
def test_the_same_seed_gives_the_same_results(acquire_timeout: float) -> None:
    scenario = mmc_scenario(
        servers=5, arrival_rate=4.0, duration=2_000, acquire_timeout=acquire_timeout
    )
    first = simulate(scenario, replications=2, seed=3, workers=1)
    second = simulate(scenario, replications=2, seed=3, workers=2)
    assert first.functions == second.functions
    other = simulate(scenario, replications=2, seed=4, workers=1)
    assert other.functions["f"]["wait_mean"] != first.functions["f"]["wait_mean"]
