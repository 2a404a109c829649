"""Scenarios in which the model is a textbook queue, for the oracles and the benchmark.

With ``min_capacity == max_capacity`` every worker is warm from the start and
never pruned, cold starts never happen, and there is no breaker, so one
function is an M/M/c queue (acquire timeout beyond the run: Erlang C) or an
M/M/c+D queue (fixed acquire timeout D: every caller has patience D).
"""

from __future__ import annotations

from scenarios.schema import Scenario
from sim.queueing import NO_TIMEOUT

__all__ = ["mmc_scenario"]


def mmc_scenario(
    *,
    servers: int,
    arrival_rate: float,
    service_mean: float = 1.0,
    duration: float,
    warmup: float = 0.0,
    acquire_timeout: float = NO_TIMEOUT,
    seed: int = 0,
) -> Scenario:
    """One function, Poisson arrivals, exponential service, ``servers`` warm workers."""
    return Scenario.model_validate(
        {
            "name": f"M/M/{servers}",
            "duration": duration,
            "warmup": warmup,
            "seed": seed,
            "functions": {
                "f": {
                    "scaling": {
                        "max_capacity": servers,
                        "min_capacity": servers,
                        "acquire_timeout": acquire_timeout,
                        "idle_timeout": NO_TIMEOUT,
                    },
                    "service": {"kind": "exponential", "mean": service_mean},
                }
            },
            "workload": {"f": {"arrivals": {"kind": "poisson", "rate": arrival_rate}}},
        }
    )
