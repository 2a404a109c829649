"""The model's pool and the gateway's ``ContainerPool`` agree request by request.

The model runs a scenario with cold starts, acquire timeouts and idle
eviction; the real pool replays the same arrivals, service times and cold
starts on a virtual-time event loop. Every request must have the same outcome
(served, timed out waiting, or cut off at ``timeout_seconds``) and, when it got
a worker, the same wait within a millisecond.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scenarios.loading import parse_scenario
from scenarios.schema import Scenario
from sim.conformance import PoolReplay, first_difference, replay_on_pool
from sim.model import Trace, run_replication
from sim.virtual_loop import VirtualTimeLoop

SCENARIO = {
    "name": "conformance",
    "duration": 120,
    "janitor_interval": 2,
    "functions": {
        "f": {
            "scaling": {
                "max_capacity": 6,
                "min_capacity": 1,
                "acquire_timeout": 1.0,
                "idle_timeout": 5.0,
            },
            "service": {"kind": "exponential", "mean": 0.3},
            "cold_start": {"kind": "lognormal", "median": 0.6, "p99": 2.0},
        }
    },
    "workload": {
        "f": {
            "arrivals": {
                "kind": "steps",
                "steps": [
                    {"at": 0, "rate": 10},  # from one warm worker: a cold-start burst
                    {"at": 20, "rate": 25},  # overload: acquire timeouts
                    {"at": 40, "rate": 1},  # quiet: idle workers are pruned
                    {"at": 70, "rate": 15},  # back up: cold starts again
                    {"at": 90, "rate": 3},
                ],
            }
        }
    },
}


def replay_agrees(scenario: Scenario, seed: int) -> tuple[dict[str, Any], PoolReplay]:
    """Run the model, replay its trace on the real pool, and check they agree on every request."""
    trace = Trace()
    result = run_replication(scenario, seed, trace=trace)["functions"]["f"]
    replay = replay_on_pool(scenario, "f", trace)
    difference = first_difference(trace, "f", replay)
    assert difference is None, f"first differing request: {difference}"
    assert replay.provisions == result["provisions"]
    assert replay.pruned == result["pruned"]
    return result, replay


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_model_and_real_pool_agree_on_every_request(seed: int) -> None:
    scenario = parse_scenario(SCENARIO)
    result, _ = replay_agrees(scenario, seed)
    # the scenario exercises every rule it claims to
    assert result["timeouts"] > 0
    assert result["cold_starts"] > 0
    assert result["pruned"] > 0


def test_first_difference_names_the_request_that_differs() -> None:
    scenario = parse_scenario(SCENARIO)
    trace = Trace()
    run_replication(scenario, 1, trace=trace)
    replay = replay_on_pool(scenario, "f", trace)
    served = next(i for i, r in enumerate(trace.requests) if r.outcome == "served")
    trace.requests[served].wait = (trace.requests[served].wait or 0.0) + 0.01
    difference = first_difference(trace, "f", replay)
    assert difference is not None
    assert difference.startswith(f"request {served} ")


def test_virtual_loop_jumps_over_sleeps_in_order() -> None:
    loop = VirtualTimeLoop()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, loop.time()))

    async def main() -> None:
        await asyncio.gather(sleeper("late", 3600.0), sleeper("early", 1.5))

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert woke == [("early", 1.5), ("late", 3600.0)]


def test_virtual_loop_reports_a_wait_that_can_never_end() -> None:
    loop = VirtualTimeLoop()

    async def stuck() -> None:
        await loop.create_future()

    try:
        with pytest.raises(RuntimeError, match="wait forever"):
            loop.run_until_complete(stuck())
    finally:
        loop.close()


@pytest.mark.parametrize("seed", [1, 2, 7])
def test_model_and_real_pool_agree_when_calls_run_past_timeout_seconds(seed: int) -> None:
    """The replay cuts calls off at ``timeout_seconds`` as the invoker does, evicting the worker.

    Evictions leave the pool below ``min_capacity`` in the quiet phase, so the
    janitors top it up: the model's must wait for its top-up before sleeping
    again, as the gateway's does.
    """
    spec = {**SCENARIO["functions"]["f"], "timeout_seconds": 0.5}  # about 19% of the calls
    scenario = parse_scenario({**SCENARIO, "functions": {"f": spec}})
    result, replay = replay_agrees(scenario, seed)
    assert result["worker_timeouts"] > 0
    cut = sum(1 for outcome in replay.outcomes if outcome.outcome == "worker_timeout")
    assert cut == result["worker_timeouts"]  # no warm-up: every request is counted
