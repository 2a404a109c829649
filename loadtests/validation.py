"""`gateproof validate`: the model against real load, across utilisation, with intervals.

Why: capacity is decided near saturation, where a model is most often wrong
and one run's p99 is itself noisy. The steps:

1. one calibration run (the scenario at the lowest utilisation asked), from
   which ``overhead`` and ``hold_overhead`` are fitted (:func:`sim.calibrate.calibrate_run`)
   and a calibrated scenario written;
2. per utilisation u, each function's Poisson rate set to u x max_capacity /
   (mean service + mean hold_overhead), a load run, and the model on the same
   calibrated scenario and rate;
3. per figure (mean, p99, timeout rate): the point error, the measured 95%
   interval (batch means, :mod:`loadtests.batch_means`) beside the model's
   replication interval, the model's own spread for one run of the same
   length (a prediction interval over its replications), and a verdict:
   ``agrees`` (point error within the target), ``within noise`` (outside the
   target, but the two intervals overlap, or the measured figure lies within
   the model's spread for one run) or ``disagrees``. Beside the verdict, the
   run's batch means of latency are tested against the model's batch means of
   the same length (:mod:`loadtests.model_batches`). Where the measured interval alone is wider than
   the target, the run length that would make it fit is given; where a
   utilisation disagrees, the component of the call (queue, hold, outside the
   worker) the model misses most, with its measured size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.batch_means import run_length_for
from loadtests.runner import LoadInputError, LoadOptions, run_load
from scenarios.schema import Poisson, Scenario

__all__ = ["TARGETS", "Validation", "judge_figure", "parse_utilisations", "validate"]

# figure: (measured field, simulator key, kind, target): relative for latency, points for rates
TARGETS = {
    "mean": ("mean", "latency_mean", "latency", 0.10),
    "p99": ("p99", "latency_p99", "latency", 0.25),
    "timeout_rate": ("timeout_rate", "timeout_rate", "rate", 0.02),
}


def parse_utilisations(text: str) -> list[float]:
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise LoadInputError(
            f"--utilisation {text!r}: give numbers separated by commas, e.g. 0.5,0.7,0.85,0.95"
        ) from None
    if not values or values[0] <= 0 or values[-1] > 1.5:
        raise LoadInputError(
            f"--utilisation {text!r}: each must be above 0 and at most 1.5 (1 is saturation)"
        )
    return values


def held_mean(scenario: Scenario, function: str) -> float:
    spec = scenario.functions[function]
    return spec.service.mean + spec.hold_overhead.mean


def rate_overrides(scenario: Scenario, utilisation: float) -> list[str]:
    """Each function's Poisson rate for ``utilisation`` of its pool."""
    overrides = []
    for name, load in scenario.workload.items():
        if not isinstance(load.arrivals, Poisson):
            raise LoadInputError(
                f"validate scales Poisson arrivals; workload.{name} has {load.arrivals.kind} "
                f"(set it to kind: poisson for validation)"
            )
        capacity = scenario.functions[name].scaling.max_capacity
        rate = utilisation * capacity / held_mean(scenario, name)
        overrides.append(f"workload.{name}.arrivals.rate={rate:.6g}")
    return overrides


def judge_figure(
    kind: str,
    target: float,
    predicted: tuple[float, float, float],
    measured: float,
    half_width: float | None,
    seconds: float,
    one_run: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """One figure's error, intervals and verdict (see the module docstring).

    ``one_run``: the model's 95% prediction interval for a single run as long
    as the measured one (None when the model ran fewer than two replications).
    """
    value, low, high = predicted
    if math.isnan(value) or math.isnan(measured):
        return {"verdict": "not measured", "error": math.nan}
    if kind == "latency":
        error = (measured - value) / value if value else math.nan
        allowed = target * measured  # the target as a half-width on the measured figure
    else:
        error = measured - value
        allowed = target
    hw = half_width if half_width is not None else math.nan
    overlap = not math.isnan(hw) and measured - hw <= high and measured + hw >= low
    spread = one_run if one_run is not None and not math.isnan(one_run[0]) else None
    inside = spread is not None and spread[0] <= measured <= spread[1]
    if not math.isnan(error) and abs(error) <= target:
        verdict = "agrees"
    elif overlap or inside:
        verdict = "within noise"
    else:
        verdict = "disagrees"
    row: dict[str, Any] = {
        "predicted": value,
        "predicted_interval": [low, high],
        "measured": measured,
        "measured_interval": [measured - hw, measured + hw] if not math.isnan(hw) else None,
        "one_run_interval": list(spread) if spread is not None else None,
        "inside_one_run": inside if spread is not None else None,
        "error": error,
        "target": target,
        "verdict": verdict,
        "run_seconds_needed": None,
    }
    if not math.isnan(hw) and hw > allowed > 0:
        row["run_seconds_needed"] = run_length_for(hw, allowed, seconds)
    return row


@dataclass
class Validation:
    scenario: str
    target: str
    calibration: list[dict[str, Any]]
    points: list[dict[str, Any]]

    @property
    def verdict(self) -> str:
        verdicts = [
            row["verdict"]
            for point in self.points
            for rows in point["functions"].values()
            for row in rows["figures"].values()
        ]
        if all(v in ("agrees", "not measured") for v in verdicts):
            return "meets the targets"
        if "disagrees" not in verdicts:
            return "inconclusive: some errors exceed the target but lie within the measured noise"
        return "misses the targets"

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "target": self.target,
            "targets": {name: t[3] for name, t in TARGETS.items()},
            "verdict": self.verdict,
            "calibration": self.calibration,
            "points": self.points,
        }


def _components(measured: dict[str, Any], simulated: dict[str, Any], scenario: Scenario,
                name: str) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per part of the call, the measured mean beside the model's, from the split."""
    split = measured.get("server_timing") or {}
    spec = scenario.functions[name]
    model = {
        "queue": float(simulated["wait_mean"].mean),
        "hold": held_mean(scenario, name),
        "latency-queue-hold": spec.overhead.mean,
    }
    parts = {}
    for part, predicted in model.items():
        if part in split:
            parts[part] = {"measured": split[part]["mean"], "model": predicted,
                           "missed": split[part]["mean"] - predicted}  # fmt: skip
    return parts


def validate(
    scenario_path: Path,
    utilisations: list[float],
    *,
    out: Path,
    target: str | None = None,
    host: str | None = None,
    overrides: list[str] | None = None,
    replications: int | None = None,
    calibration_run: Path | None = None,
    echo: Callable[[str], None] = print,
) -> Validation:
    """Calibrate, then load and model the scenario at each utilisation; see the module doc.

    ``calibration_run`` reuses an earlier load run's folder instead of a new
    calibration run, so a long run at one utilisation costs one run, not two.
    """
    from scenarios.loading import ScenarioError, load_scenario
    from sim.calibrate import CalibrationError, calibrate_run
    from sim.calibrated_scenario import write_calibrated
    from sim.replications import simulate
    from sim.results import prediction_interval

    overrides = list(overrides or [])
    try:
        base = load_scenario(scenario_path, overrides)
    except ScenarioError as error:
        raise LoadInputError(str(error)) from None
    rate_overrides(base, utilisations[0])  # refuses non-Poisson workloads before any run

    def load(scenario_file: Path, extra: list[str], folder: Path) -> Any:
        options = LoadOptions(scenario=scenario_file, out=folder, overrides=[*overrides, *extra],
                              target=target, host=host, predict=False)  # fmt: skip
        return run_load(options, echo=lambda line: None)

    if calibration_run is None:
        calibration_run = out / "calibration"
        echo(f"validate: calibration run at utilisation {utilisations[0]:g} ...")
        load(scenario_path, rate_overrides(base, utilisations[0]), calibration_run)
    else:
        echo(f"validate: calibrated from the earlier run in {calibration_run}")
    try:
        calibrations = calibrate_run(calibration_run)
        calibrated_path = write_calibrated(scenario_path, calibrations, out / "calibrated.yaml")
    except CalibrationError as error:
        raise LoadInputError(f"calibration failed: {error}") from None
    calibrated = load_scenario(calibrated_path, overrides)
    points = []
    for u in utilisations:
        extra = rate_overrides(calibrated, u)
        echo(f"validate: utilisation {u:g}: load run and model ...")
        result = load(calibrated_path, extra, out / f"u{u:.2f}")
        model = simulate(load_scenario(calibrated_path, [*overrides, *extra]),
                         replications=replications, progress=False)  # fmt: skip
        functions = {}
        for name, measure in result.functions.items():
            measured = measure.as_dict()
            simulated = model.functions[name]
            figures = {}
            for figure, (field, key, kind, goal) in TARGETS.items():
                estimate = simulated[key]
                spread = prediction_interval(
                    [float(r["functions"][name][key]) for r in model.replications]
                )
                figures[figure] = judge_figure(
                    kind, goal, (estimate.mean, estimate.low, estimate.high),
                    float(measured[field]), measured["half_widths"].get(field),
                    result.window_s, (spread.low, spread.high),
                )  # fmt: skip
            functions[name] = {
                "rate": measure.target_rate,
                "achieved_rate": measure.achieved_rate,
                "figures": figures,
                "components": _components(measured, simulated, calibrated, name),
                "batch_means": _batch_means(measured, model.replications, name, calibrated,
                                            result.window_s),
            }  # fmt: skip
        points.append({"utilisation": u, "measured_seconds": result.window_s,
                       "complete": result.complete, "functions": functions})  # fmt: skip
    fitted = [_fitted(c) for c in calibrations]
    return Validation(base.name, target or host or "", fitted, points)


def _batch_means(
    measured: dict[str, Any],
    replications: list[dict[str, Any]],
    name: str,
    scenario: Scenario,
    window: float,
) -> dict[str, Any] | None:
    """The run's batch means of latency against the model's (see :mod:`loadtests.model_batches`)."""
    from loadtests.model_batches import batch_check, model_batch_means

    batches = [float(batch["mean"]) for batch in measured.get("batches") or []]
    if len(batches) < 2 or window <= 0:
        return None
    model = model_batch_means(
        replications, name, warmup=scenario.warmup, window=window, batches=len(batches)
    )
    return batch_check(batches, model)


def _fitted(calibration: Any) -> dict[str, Any]:
    hold = calibration.hold_overhead
    return {
        "function": calibration.function,
        "method": calibration.method,
        "overhead": calibration.overhead.params,
        "overhead_kind": calibration.overhead.family,
        "hold_overhead": hold.params if hold else None,
        "hold_overhead_kind": hold.family if hold else None,
    }
