"""`plan --verify`: a plan's recommendation checked by real load at N and at N-1.

Why: a user who sizes production from ``gateproof plan`` otherwise has only
the model's word. The claim a plan makes is two-sided: N workers meet the SLO
and N-1 do not (N is the smallest that holds). Both sides are load tested on
a target whose pool gateproof sizes itself (``--target local`` or
``docker``), with the scenario's workload, for a shortened run; a verdict says
which side, if any, disagrees with the model, by how much, with each measured
figure's 95% interval from batch means beside it.

Only the recommendation missing its SLO for real fails verification (exit 1):
N-1 also meeting it means the plan is generous by one worker, which is
reported, not failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.runner import LoadOptions, run_load
from scenarios.schema import Scenario

__all__ = [
    "DEFAULT_VERIFY_SECONDS",
    "VERIFY_TARGETS",
    "SizeRun",
    "Verification",
    "judge",
    "verify_plan",
]

DEFAULT_VERIFY_SECONDS = 60.0  # per size, warm-up included: two sizes take about two minutes
VERIFY_TARGETS = ("local", "docker")  # targets whose pool gateproof sizes


@dataclass
class SizeRun:
    """One load run at one ``max_capacity``: its SLO checks and measured figures."""

    max_capacity: int
    met: bool
    checks: list[dict[str, Any]]
    measured: dict[str, Any]
    predicted: dict[str, float] = field(default_factory=dict)  # the plan's own point

    def broken(self) -> list[dict[str, Any]]:
        return [check for check in self.checks if not check["ok"]]


@dataclass
class Verification:
    function: str
    recommended: SizeRun
    below: SizeRun | None  # None when N is 1
    verdict: str
    holds: bool  # the recommendation met its SLO for real

    def as_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "verdict": self.verdict,
            "holds": self.holds,
            "smallest": self.holds and (self.below is None or not self.below.met),
            "runs": [run.__dict__ for run in (self.recommended, self.below) if run is not None],
        }


def _misses(run: SizeRun) -> str:
    parts = []
    for check in run.broken():
        limit, value = check["limit"], check["value"]
        over = f"{(value / limit - 1):+.0%}" if limit else "over"
        metric = check["metric"]
        spread = _interval(run, metric, value)
        parts.append(f"{metric} {_show(metric, value)}{spread} > {_show(metric, limit)} ({over})")
    return ", ".join(parts)


def _interval(run: SizeRun, metric: str, value: float) -> str:
    """`` [low, high]``: the measured figure's 95% interval (batch means), when known."""
    field = {"latency_p99": "p99", "timeout_rate": "timeout_rate", "error_rate": "error_rate"}
    half = (run.measured.get("half_widths") or {}).get(field.get(metric, ""))
    if half is None:
        return ""
    return f" [{_show(metric, max(value - half, 0.0))}, {_show(metric, value + half)}]"


def _show(metric: str, value: float) -> str:
    return f"{value * 100:.3f}%" if metric.endswith("_rate") else f"{value * 1000:.1f} ms"


def judge(function: str, recommended: SizeRun, below: SizeRun | None) -> Verification:
    """The verdict on one function's recommendation from its two measured runs."""
    n = recommended.max_capacity
    if not recommended.met:
        verdict = (
            f"{function}: {n} misses the SLO for real ({_misses(recommended)}): the model "
            f"under-sizes this pool; calibrate the scenario (gateproof sim calibrate) and plan "
            f"again"
        )
        return Verification(function, recommended, below, verdict, holds=False)
    if below is None:
        verdict = (
            f"{function}: {n} meets the SLO, and no smaller pool exists: the recommendation holds"
        )
    elif below.met:
        verdict = (
            f"{function}: {n} meets the SLO, but {n - 1} meets it too: the model over-sizes "
            f"by at least one worker ({n - 1} measured {_figures(below)})"
        )
    else:
        verdict = (
            f"{function}: {n} meets the SLO, {n - 1} misses it: the recommendation is the "
            f"smallest that holds ({n - 1}: {_misses(below)})"
        )
    return Verification(function, recommended, below, verdict, holds=True)


def _figures(run: SizeRun) -> str:
    return ", ".join(f"{c['metric']} {_show(c['metric'], c['value'])}" for c in run.checks)


def verify_plan(
    scenario_path: Path,
    scenario: Scenario,
    recommendations: dict[str, int],
    *,
    target: str,
    seconds: float,
    out: Path,
    overrides: list[str] | None = None,
    predicted: dict[str, dict[int, dict[str, float]]] | None = None,
    echo: Callable[[str], None] = print,
) -> list[Verification]:
    """Load test each function's recommended ``max_capacity`` and the size below it."""
    verifications = []
    for function, n in recommendations.items():
        runs: dict[int, SizeRun] = {}
        for size in (n, n - 1):
            if size < 1:
                continue
            echo(f"plan --verify: {function} at max_capacity {size} for {seconds:g} s ...")
            runs[size] = _run_at(
                scenario_path, scenario, function, size, target, seconds,
                out / f"{function}-{size}", list(overrides or []),
            )  # fmt: skip
            runs[size].predicted = (predicted or {}).get(function, {}).get(size, {})
        verifications.append(judge(function, runs[n], runs.get(n - 1)))
    return verifications


def _run_at(
    scenario_path: Path,
    scenario: Scenario,
    function: str,
    size: int,
    target: str,
    seconds: float,
    out: Path,
    overrides: list[str],
) -> SizeRun:
    scaling = scenario.functions[function].scaling
    warm = scaling.min_capacity == scaling.max_capacity  # a fully warm pool stays fully warm
    minimum = size if warm else min(scaling.min_capacity, size)
    warmup = min(scenario.warmup, seconds / 5)
    options = LoadOptions(
        scenario=scenario_path,
        out=out,
        overrides=[
            *overrides,
            f"duration={seconds}",
            f"warmup={warmup}",
            f"functions.{function}.scaling.max_capacity={size}",
            f"functions.{function}.scaling.min_capacity={minimum}",
        ],
        target=target,
        predict=False,
    )
    result = run_load(options, echo=lambda line: None)
    checks = [c.as_dict() for c in result.slo if c.function == function]
    measured = result.functions[function].as_dict()
    keep = ("requests", "achieved_rate", "mean", "p99", "timeout_rate", "error_rate", "half_widths")
    return SizeRun(
        size,
        met=all(c["ok"] for c in checks) and result.complete,
        checks=checks,
        measured={key: measured[key] for key in keep},
    )
