"""``hold_overhead`` keeps the worker busy; ``overhead`` only adds latency.

Why it matters: at saturation a millisecond the worker is held but not
serving raises utilisation, and waiting grows without bound as it nears 1.
A model that adds the exchange to latency only (as ``overhead``) predicts a
pool at 0.95 where the real one is at 1.0.
"""

from __future__ import annotations

import pytest

from scenarios.loading import parse_scenario
from sim.model import run_replication

BASE = {
    "name": "hold",
    "duration": 120,
    "warmup": 10,
    "functions": {
        "f": {
            "scaling": {"max_capacity": 4, "min_capacity": 4, "acquire_timeout": 5.0},
            "service": {"kind": "constant", "value": 0.040},
        }
    },
    "workload": {"f": {"arrivals": {"kind": "poisson", "rate": 60}}},  # utilisation 0.6
}


def run(**extra: dict) -> dict:
    spec = {**BASE["functions"]["f"], **extra}
    return run_replication(parse_scenario({**BASE, "functions": {"f": spec}}), 3)["functions"]["f"]


def test_hold_overhead_counts_in_utilisation_and_overhead_does_not() -> None:
    plain = run()
    held = run(hold_overhead={"kind": "constant", "value": 0.010})
    outside = run(overhead={"kind": "constant", "value": 0.010})
    assert plain["utilisation"] == pytest.approx(0.6, rel=0.05)
    assert held["utilisation"] == pytest.approx(0.75, rel=0.05)  # 60 x 0.050 / 4
    assert outside["utilisation"] == pytest.approx(plain["utilisation"])
    # same extra time per call, but only the held one queues calls behind it
    assert held["wait_p99"] > outside["wait_p99"]
    assert held["latency_mean"] > outside["latency_mean"]


def test_a_hold_overhead_near_the_timeout_is_refused_with_what_to_do() -> None:
    from scenarios.loading import ScenarioError

    spec = {**BASE["functions"]["f"], "hold_overhead": {"kind": "constant", "value": 30}}
    spec["timeout_seconds"] = 20
    with pytest.raises(ScenarioError, match=r"hold_overhead has a mean of 30 s.*in seconds"):
        parse_scenario({**BASE, "functions": {"f": spec}})
