"""Combine replications into estimates with 95% confidence intervals, and judge the SLOs.

Each replication is an independent run (its own seed stream), so a metric's
replication values are i.i.d. and the t-distribution gives an exact-coverage
interval for their mean when they are near-normal, which means of thousands of
requests are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats

from scenarios.schema import SLO, Scenario

__all__ = [
    "Estimate",
    "SimResult",
    "SloCheck",
    "check_slo",
    "confidence_interval",
    "finite",
    "function_slo",
    "slo_checks",
    "summarise",
]

# metric name in the results -> SLO field that limits it
_SLO_METRICS = {
    "latency_p50": "p50",
    "latency_p95": "p95",
    "latency_p99": "p99",
    "error_rate": "error_rate",
    "timeout_rate": "timeout_rate",
    "cold_start_rate": "cold_start_rate",
}


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}


def confidence_interval(values: list[float], confidence: float = 0.95) -> Estimate:
    """Mean and two-sided t interval; NaN values (an empty histogram) are left out."""
    values = [v for v in values if not math.isnan(v)]
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n)
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n)


def prediction_interval(values: list[float], confidence: float = 0.95) -> Estimate:
    """Where one more replication's value falls: mean +/- t * sd * sqrt(1 + 1/n).

    Why: a load run is one run, not the mean of many; near saturation one run's
    mean varies far more than the model's mean over its replications does.
    """
    values = [v for v in values if not math.isnan(v)]
    n = len(values)
    if n < 2:
        return Estimate(values[0] if values else math.nan, math.nan, math.nan, n)
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * math.sqrt(variance * (1 + 1 / n))
    return Estimate(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class SloCheck:
    function: str
    metric: str
    limit: float
    value: float

    @property
    def ok(self) -> bool:
        return not math.isnan(self.value) and self.value <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "metric": self.metric,
            "limit": self.limit,
            "value": self.value,
            "ok": self.ok,
        }


@dataclass
class SimResult:
    scenario: Scenario
    seed: int
    replications: list[dict[str, Any]]
    functions: dict[str, dict[str, Estimate]]
    overall: dict[str, Estimate]
    slo: list[SloCheck]

    @property
    def slo_met(self) -> bool:
        return all(check.ok for check in self.slo)

    def as_dict(self) -> dict[str, Any]:
        """What ``sim.json`` holds: estimates, SLO checks, and replication 0's time series."""
        first = self.replications[0]
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replications": len(self.replications),
            "duration": self.scenario.duration,
            "warmup": self.scenario.warmup,
            "functions": {
                name: {metric: est.as_dict() for metric, est in metrics.items()}
                for name, metrics in self.functions.items()
            },
            "overall": {metric: est.as_dict() for metric, est in self.overall.items()},
            "slo": {
                "met": self.slo_met,
                "checks": [check.as_dict() for check in self.slo],
            },
            "series": first["series"],
            "breaker_transitions": first["transitions"],
        }


def finite(value: Any) -> Any:
    """``value`` for JSON, which has no NaN: what was not measured becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _estimates(rows: list[dict[str, Any]]) -> dict[str, Estimate]:
    return {key: confidence_interval([float(row[key]) for row in rows]) for key in rows[0]}


def function_slo(scenario: Scenario, name: str) -> SLO:
    """The SLO a function must meet: its own, else the scenario's."""
    return scenario.functions[name].slo or scenario.slo


def slo_checks(name: str, slo: SLO, metrics: dict[str, Estimate]) -> list[SloCheck]:
    """One check per limit that ``slo`` sets, on the mean over replications."""
    checks = []
    for metric, field in _SLO_METRICS.items():
        limit = getattr(slo, field)
        if limit is not None:
            checks.append(SloCheck(name, metric, limit, metrics[metric].mean))
    return checks


def check_slo(scenario: Scenario, functions: dict[str, dict[str, Estimate]]) -> list[SloCheck]:
    """One check per function and limit, on the mean over replications."""
    checks = []
    for name, metrics in functions.items():
        checks += slo_checks(name, function_slo(scenario, name), metrics)
    return checks


def summarise(scenario: Scenario, seed: int, replications: list[dict[str, Any]]) -> SimResult:
    names = list(replications[0]["functions"])
    functions = {name: _estimates([r["functions"][name] for r in replications]) for name in names}
    overall = _estimates([r["overall"] for r in replications])
    return SimResult(
        scenario=scenario,
        seed=seed,
        replications=replications,
        functions=functions,
        overall=overall,
        slo=check_slo(scenario, functions),
    )
