"""Find, per function, the smallest pool that meets the scenario's SLOs.

Functions have separate pools and breakers, so each is planned on its own
(a scenario holding just that function, its traffic and its faults). For
``max_capacity`` a grid of sizes around the offered load (arrival rate x mean
service time) is simulated, every (size, replication) in parallel, and the
gap below the first passing size is filled in; the cold-start limit is left
to ``min_capacity``, which is then searched by bisection at the chosen size
(more warm workers, fewer cold starts). A pool that the scenario keeps fully
warm (``min_capacity == max_capacity``) stays fully warm at every size.
Every size is run with the same seed streams (common random numbers), so the
differences between sizes come from the size, not from the noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from scenarios.schema import SLO, Constant, Scenario, Trace
from sim.distributions import rate_segments
from sim.replications import run_jobs
from sim.results import Estimate, function_slo, slo_checks, summarise

if TYPE_CHECKING:
    from sim.cluster import Cluster

__all__ = ["FunctionPlan", "PlanPoint", "offered_load", "plan_capacity"]

GRID_POINTS = 10


@dataclass(frozen=True)
class PlanPoint:
    max_capacity: int
    min_capacity: int
    metrics: dict[str, Estimate]
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_capacity": self.max_capacity,
            "min_capacity": self.min_capacity,
            "met": self.met,
            **{
                key: self.metrics[key].mean
                for key in ("latency_p99", "timeout_rate", "error_rate", "cold_start_rate")
            },
            "latency_p99_ci": [self.metrics["latency_p99"].low, self.metrics["latency_p99"].high],
        }


@dataclass
class FunctionPlan:
    function: str
    offered_load: float
    slo: SLO
    points: list[PlanPoint] = field(default_factory=list)
    min_points: list[PlanPoint] = field(default_factory=list)
    max_capacity: int | None = None
    min_capacity: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered_load": self.offered_load,
            "slo": self.slo.model_dump(exclude_none=True),
            "max_capacity": self.max_capacity,
            "min_capacity": self.min_capacity,
            "points": [p.as_dict() for p in sorted(self.points, key=lambda p: p.max_capacity)],
            "min_points": [p.as_dict() for p in self.min_points],
        }


def offered_load(scenario: Scenario, function: str) -> float:
    """Mean busy workers the traffic needs: time-averaged arrival rate x mean time held.

    A worker is held for its service and its ``hold_overhead``: both count.
    """
    load = scenario.workload.get(function)
    if load is None:
        return 0.0
    if isinstance(load.arrivals, Trace):
        stamps = [t for t in load.arrivals.timestamps() if t < scenario.duration]
        rate = len(stamps) / scenario.duration
    else:
        segments = rate_segments(load.arrivals, scenario.duration)
        rate = sum((end - start) * r for start, end, r in segments) / scenario.duration
    spec = scenario.functions[function]
    return rate * (spec.service.mean + spec.hold_overhead.mean)


def default_sizes(load: float) -> list[int]:
    low = max(1, math.floor(load) + 1)
    high = max(low + GRID_POINTS - 1, math.ceil(2 * load) + 2)
    return sorted({round(x) for x in np.linspace(low, high, GRID_POINTS)})


def _only(scenario: Scenario, function: str, max_capacity: int, min_capacity: int) -> Scenario:
    spec = scenario.functions[function]
    scaling = spec.scaling.model_copy(
        update={"max_capacity": max_capacity, "min_capacity": min_capacity}
    )
    return scenario.model_copy(
        update={
            "functions": {function: spec.model_copy(update={"scaling": scaling})},
            "workload": {k: v for k, v in scenario.workload.items() if k == function},
            "faults": [f for f in scenario.faults if f.function in (None, function)],
        }
    )


def _warm(scenario: Scenario, function: str, size: int) -> int:
    scaling = scenario.functions[function].scaling
    if scaling.min_capacity == scaling.max_capacity:
        return size
    return min(scaling.min_capacity, size)


def _meets(function: str, slo: SLO, metrics: dict[str, Estimate], *, cold_starts: bool) -> bool:
    """Whether every limit holds; the cold-start limit only when ``cold_starts``."""
    return all(
        check.ok
        for check in slo_checks(function, slo, metrics)
        if cold_starts or check.metric != "cold_start_rate"
    )


class _Evaluator:
    def __init__(
        self, scenario: Scenario, replications: int, seed: int, workers, progress, cluster
    ):
        self.scenario = scenario
        self.replications = replications
        self.seed = seed
        self.workers = workers
        self.progress = progress
        self.cluster = cluster

    def run(self, function: str, sizes: list[tuple[int, int]], slo: SLO, *, cold: bool):
        seeds = np.random.SeedSequence(self.seed).spawn(self.replications)
        scenarios = [_only(self.scenario, function, mx, mn) for mx, mn in sizes]
        jobs = [(s, child) for s in scenarios for child in seeds]
        runs = run_jobs(
            jobs,
            workers=self.workers,
            progress=self.progress,
            desc=f"plan {function}",
            cluster=self.cluster,
        )
        points = []
        for index, (mx, mn) in enumerate(sizes):
            chunk = runs[index * self.replications : (index + 1) * self.replications]
            metrics = summarise(scenarios[index], self.seed, chunk).functions[function]
            met = _meets(function, slo, metrics, cold_starts=cold)
            points.append(PlanPoint(mx, mn, metrics, met))
        return points


def plan_capacity(
    scenario: Scenario,
    *,
    sizes: list[int] | None = None,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    cluster: Cluster | None = None,
) -> dict[str, FunctionPlan]:
    """The smallest ``max_capacity`` (and ``min_capacity`` for a cold-start SLO) per function.

    ``cluster`` runs the replications on Dask (:mod:`sim.cluster`); the plan is the same.
    """
    evaluate = _Evaluator(
        scenario,
        replications or scenario.replications,
        scenario.seed if seed is None else seed,
        workers,
        progress,
        cluster,
    )
    plans = {}
    for function in sorted(scenario.functions):
        spec = scenario.functions[function]
        slo = function_slo(scenario, function)
        load = offered_load(scenario, function)
        plan = FunctionPlan(function, load, slo)
        grid = sorted(set(sizes)) if sizes else default_sizes(load)
        plan.points = evaluate.run(
            function, [(s, _warm(scenario, function, s)) for s in grid], slo, cold=False
        )
        passing = [p for p in plan.points if p.met]
        if passing:
            first = passing[0].max_capacity
            below = [p.max_capacity for p in plan.points if p.max_capacity < first]
            gap = list(range(max(below) + 1, first)) if below else []
            if gap:
                extra = evaluate.run(
                    function, [(s, _warm(scenario, function, s)) for s in gap], slo, cold=False
                )
                plan.points.extend(extra)
            plan.max_capacity = min(p.max_capacity for p in plan.points if p.met)
        if plan.max_capacity is not None:
            _plan_min(evaluate, plan, spec, slo)
        plans[function] = plan
    return plans


def _plan_min(evaluate: _Evaluator, plan: FunctionPlan, spec: Any, slo: SLO) -> None:
    """Bisection on ``min_capacity`` at the chosen size, when cold starts are limited."""
    size = plan.max_capacity
    assert size is not None
    chosen = next(p for p in plan.points if p.max_capacity == size)
    cold_free = isinstance(spec.cold_start, Constant) and spec.cold_start.value == 0
    if slo.cold_start_rate is None or cold_free:
        plan.min_capacity = chosen.min_capacity
        return
    if _meets(plan.function, slo, chosen.metrics, cold_starts=True):
        low, high = -1, chosen.min_capacity  # high passes; look for fewer warm workers
    else:
        low, high = chosen.min_capacity, size + 1  # size + 1: not found yet
    while high - low > 1:
        middle = (low + high) // 2
        if middle > size:
            break
        (point,) = evaluate.run(plan.function, [(size, middle)], slo, cold=True)
        plan.min_points.append(point)
        if point.met:
            high = middle
        else:
            low = middle
    plan.min_capacity = high if high <= size else None
