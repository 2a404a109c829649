"""A load run's measurements: Locust's CSV and the run's tally turned into ``load.json``.

Latency comes from Locust's own statistics (``*_stats.csv``): per function,
the row named after it holds the calls that ran on a worker (refused calls
have rows of their own), as the simulator's latency does; the overall
percentiles are Locust's ``Aggregated`` row, refused calls included. Counts
by status and error ``code``, and the lag of the arrivals, come from the
tally (:mod:`loadtests.tally`). Rates are fractions of the arrivals; times
are in seconds, as in scenario files and ``sim.json``.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.batch_means import batch_figures, half_widths
from loadtests.plan import LoadPlan
from loadtests.tally import CONNECTION_ERROR, NEVER_REACHED_502, decode_histogram
from scenarios.schema import Scenario
from sim.results import Estimate, SloCheck, function_slo, slo_checks

__all__ = [
    "LOAD_JSON_VERSION",
    "RATE_TOLERANCE",
    "FunctionMeasure",
    "LoadResult",
    "measure",
    "read_locust_stats",
]

LOAD_JSON_VERSION = 1
RATE_TOLERANCE = 0.10  # an achieved rate more than 10% under the target is "not sustained"
_TIMEOUT_CODES = ("no_capacity",)  # the simulator's acquire timeouts
_REJECTION_CODES = ("circuit_open",)
_UNMEASURED = ("cold_start_rate",)  # a client cannot see cold starts


@dataclass
class FunctionMeasure:
    """One function's (or the whole run's) measured figures."""

    requests: int
    target_rate: float
    achieved_rate: float
    throughput: float  # 2xx per second
    mean: float
    p50: float
    p95: float
    p99: float
    max: float
    statuses: dict[str, int]
    codes: dict[str, int]
    error_rate: float
    timeout_rate: float
    rejection_rate: float
    outside: list[float] = field(default_factory=list)  # latency minus the worker's own time
    # the target's Server-Timing split: per name, samples, mean and percentiles (seconds)
    server_timing: dict[str, dict[str, float]] = field(default_factory=dict)
    batches: list[dict[str, float]] = field(default_factory=list)  # batch means, in time order

    @property
    def achieved_ratio(self) -> float:
        return self.achieved_rate / self.target_rate if self.target_rate else math.nan

    def bad_gateway(self) -> dict[str, int]:
        """The 502 answers: from calls that reached a worker, and from calls that never did."""
        never = sum(self.codes.get(code, 0) for code in NEVER_REACHED_502)
        total = self.statuses.get("502", 0)
        return {"total": total, "reached_worker": total - never, "never_reached_worker": never}

    def metrics(self) -> dict[str, Estimate]:
        """The figures an SLO limits, as the simulator names them."""
        values = {
            "latency_p50": self.p50,
            "latency_p95": self.p95,
            "latency_p99": self.p99,
            "error_rate": self.error_rate,
            "timeout_rate": self.timeout_rate,
            "cold_start_rate": math.nan,
        }
        return {key: Estimate(value, math.nan, math.nan, 1) for key, value in values.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "target_rate": self.target_rate,
            "achieved_rate": self.achieved_rate,
            "achieved_ratio": self.achieved_ratio,
            "throughput": self.throughput,
            "mean": self.mean,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
            "error_rate": self.error_rate,
            "timeout_rate": self.timeout_rate,
            "rejection_rate": self.rejection_rate,
            "errors_by_status": {k: v for k, v in self.statuses.items() if not k.startswith("2")},
            "errors_by_code": self.codes,
            "bad_gateway": self.bad_gateway(),
            "responses_by_status": self.statuses,
            "time_outside_worker": {
                "median": statistics.median(self.outside) if self.outside else None,
                "samples": len(self.outside),
            },
            "server_timing": self.server_timing,
            "batches": self.batches,
            "half_widths": half_widths(self.batches),
        }


@dataclass
class LoadResult:
    """Everything ``load.json`` holds; :meth:`as_dict` is its stable form."""

    scenario: Scenario
    host: str
    target: str | None
    complete: bool
    window_s: float
    functions: dict[str, FunctionMeasure]
    overall: FunctionMeasure
    lag: dict[str, float]
    contract: dict[str, Any]
    slo: list[SloCheck]
    max_users: int
    notes: list[str] = field(default_factory=list)
    predicted: dict[str, Any] | None = None
    chaos: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    stopped_early: str | None = None  # why the run stopped before its end (early_stop)
    tls: dict[str, Any] | None = None  # https: how the host's certificate was checked
    scenario_file: str | None = None  # the file the run read (overrides applied on top)
    overrides: list[str] = field(default_factory=list)

    @property
    def slo_met(self) -> bool:
        return all(check.ok for check in self.slo)

    @property
    def rate_sustained(self) -> bool:
        ratio = self.overall.achieved_ratio
        return math.isnan(ratio) or ratio >= 1 - RATE_TOLERANCE

    def broken_slos(self) -> list[str]:
        """One line per broken SLO, for the terminal and for pipelines."""
        return [
            f"SLO broken: {c.function} {c.metric} {_show(c.metric, c.value)} > limit "
            f"{_show(c.metric, c.limit)}"
            for c in self.slo
            if not c.ok
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": LOAD_JSON_VERSION,
            "scenario": self.scenario.name,
            "scenario_file": self.scenario_file,
            "overrides": self.overrides,
            "host": self.host,
            "target": self.target,
            "complete": self.complete,
            "stopped_early": self.stopped_early,
            "tls": self.tls,
            "duration": self.scenario.duration,
            "warmup": self.scenario.warmup,
            "measured_seconds": self.window_s,
            "max_users": self.max_users,
            "rate_sustained": self.rate_sustained,
            "functions": {name: m.as_dict() for name, m in self.functions.items()},
            "overall": self.overall.as_dict(),
            "lag": self.lag,
            "contract": self.contract,
            "slo": {
                "met": self.slo_met,
                "checks": [check.as_dict() for check in self.slo],
            },
            "predicted": self.predicted,
            "chaos": self.chaos,
            "after": self.after,
            "notes": self.notes,
            "files": self.files,
        }


def _show(metric: str, value: float) -> str:
    if math.isnan(value):
        return "(not measured)"
    if metric.startswith("latency"):
        return f"{value * 1000:.1f} ms"
    return f"{value:.2%}"


def read_locust_stats(path: Path) -> dict[str, dict[str, float]]:
    """Rows of Locust's ``*_stats.csv`` by name, times in seconds (empty if there is none)."""
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, float]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):

            def number(column: str, row: dict[str, str] = row) -> float:
                text = row.get(column, "")
                return float(text) if text not in ("", "N/A") else math.nan

            rows[row["Name"]] = {
                "count": number("Request Count"),
                "mean": number("Average Response Time") / 1000,
                "p50": number("50%") / 1000,
                "p95": number("95%") / 1000,
                "p99": number("99%") / 1000,
                "max": number("Max Response Time") / 1000,
                "rps": number("Requests/s"),
            }
    return rows


def _measure(
    row: dict[str, float] | None,
    statuses: Counter[str],
    codes: Counter[str],
    target_rate: float,
    window: float,
) -> FunctionMeasure:
    requests = sum(statuses.values())
    ok = sum(n for status, n in statuses.items() if status.startswith("2"))
    timeouts = sum(codes[c] for c in _TIMEOUT_CODES)
    rejections = sum(codes[c] for c in _REJECTION_CODES)
    refused = sum(codes[c] for c in ("rate_limited", "backend_unavailable"))
    errors = requests - ok - timeouts - rejections - refused
    share = (lambda n: n / requests) if requests else (lambda n: math.nan)
    row = row or {}
    return FunctionMeasure(
        requests=requests,
        target_rate=target_rate,
        achieved_rate=requests / window if window > 0 else math.nan,
        throughput=ok / window if window > 0 else math.nan,
        mean=row.get("mean", math.nan),
        p50=row.get("p50", math.nan),
        p95=row.get("p95", math.nan),
        p99=row.get("p99", math.nan),
        max=row.get("max", math.nan),
        statuses=dict(sorted(statuses.items())),
        codes=dict(sorted(codes.items())),
        error_rate=share(errors),
        timeout_rate=share(timeouts),
        rejection_rate=share(rejections),
    )


def _split_figures(encoded: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per Server-Timing name: how many calls sent it, its mean and percentiles, in seconds."""
    figures = {}
    for name, data in encoded.items():
        histogram = decode_histogram(data)
        values = histogram.percentiles([50, 95, 99])
        figures[name] = {
            "samples": histogram.count,
            "mean": histogram.mean,
            "stdev": histogram.stdev,
            "p50": values[50],
            "p95": values[95],
            "p99": values[99],
        }
    return figures


def _split(counts: dict[str, int], name: str) -> Counter[str]:
    """The counts of one function from ``"function key"`` entries."""
    found: Counter[str] = Counter()
    for key, count in counts.items():
        function, _, rest = key.rpartition(" ")
        if function == name:
            found[rest] += count
    return found


def measure(
    plan: LoadPlan,
    stats_csv: Path,
    tally: dict[str, Any],
    *,
    host: str,
    target: str | None,
    complete: bool,
) -> LoadResult:
    """Combine Locust's statistics and the tally into a :class:`LoadResult` with SLO checks."""
    scenario = plan.scenario
    rows = read_locust_stats(stats_csv)
    window = float(tally.get("window_s") or 0.0)
    start = plan.warmup
    end = min(plan.duration, start + window) if window > 0 else plan.duration
    span = max(end - start, 1e-9)
    functions: dict[str, FunctionMeasure] = {}
    all_statuses: Counter[str] = Counter()
    all_codes: Counter[str] = Counter()
    for name in scenario.workload:
        statuses = _split(tally.get("statuses", {}), name)
        codes = _split(tally.get("codes", {}), name)
        all_statuses.update(statuses)
        all_codes.update(codes)
        target_rate = plan.expected_requests(start, end, name) / span
        functions[name] = _measure(rows.get(name), statuses, codes, target_rate, window)
        functions[name].outside = list(tally.get("outside", {}).get(name, []))
        functions[name].server_timing = _split_figures(tally.get("timing", {}).get(name, {}))
        functions[name].batches = batch_figures(tally.get("batches", {}).get(name, {}))
    overall_target = plan.expected_requests(start, end) / span
    overall = _measure(rows.get("Aggregated"), all_statuses, all_codes, overall_target, window)
    checks = [
        check
        for name, m in functions.items()
        for check in slo_checks(name, function_slo(scenario, name), m.metrics())
        if check.metric not in _UNMEASURED
    ]
    arrivals = int(tally.get("arrivals", 0))
    lag = {
        "arrivals": arrivals,
        "late": int(tally.get("late", 0)),
        "late_share": tally.get("late", 0) / arrivals if arrivals else 0.0,
        "mean": tally.get("lag_sum", 0.0) / arrivals if arrivals else 0.0,
        "max": float(tally.get("lag_max", 0.0)),
    }
    broken = dict(tally.get("broken", {}))
    contract = {
        "held": not broken,
        "broken": broken,
        "examples": dict(tally.get("examples", {})),
        "connection_errors": all_statuses.get(CONNECTION_ERROR, 0),
    }
    notes = []
    if any(getattr(function_slo(scenario, n), "cold_start_rate", None) for n in functions):
        notes.append("cold_start_rate SLOs are not checked: a client cannot see cold starts")
    return LoadResult(
        scenario=scenario,
        host=host,
        target=target,
        complete=complete,
        window_s=window,
        functions=functions,
        overall=overall,
        lag=lag,
        contract=contract,
        slo=checks,
        max_users=plan.max_users,
        notes=notes,
    )
