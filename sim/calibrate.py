"""Fit a service-time distribution to measured latencies and write the scenario block.

Service times come from two sources: the gateway's JSON-lines access log (one object per line with a
``duration_ms`` field: raw samples, fitted by maximum likelihood with scipy
and the best family chosen by the Kolmogorov-Smirnov distance; lines with an
error ``status`` are left out, and ``function`` selects one function), or a Locust
``*_stats_history.csv`` (percentiles only: a lognormal is fitted to them by
least squares of log-latency on the normal quantile, log q_p = mu + sigma z_p).

A call's *overhead* (time outside its worker: the gateway's own work, the
network, the load generator) and *hold overhead* (the worker held beyond its
service: the gateway's exchange with it) come from a load run's ``load.json``
(:func:`calibrate_run`). When the target sent ``Server-Timing`` (the reference
gateway always does), each is fitted to its per-call distribution, which
``gateproof load`` derived from the split: ``hold - svc`` and ``latency -
queue - hold``. Without the split, the fallback is the median over the calls
of the latency minus the time the worker reported, as the overhead, and no
hold overhead: below a utilisation of about 0.8 most calls wait for no worker,
so that median is the overhead alone; above it, queueing mixes in.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

__all__ = [
    "Calibration",
    "CalibrationError",
    "Fit",
    "calibrate",
    "calibrate_overhead",
    "calibrate_run",
    "fit_percentiles",
    "fit_samples",
]

FAMILIES = ("lognormal", "gamma", "exponential")


class CalibrationError(ValueError):
    """The file cannot be read as latencies; the message says what was expected."""


@dataclass(frozen=True)
class Fit:
    family: str
    params: dict[str, float]  # the scenario's own fields for this kind
    ks_distance: float | None
    samples: int
    note: str

    def yaml_block(self, key: str = "service") -> str:
        fields = ", ".join(f"{name}: {value:.6g}" for name, value in self.params.items())
        return f"# {self.note}\n{key}: {{kind: {self.family}, {fields}}}"


def calibrate(
    path: str | Path,
    *,
    family: str = "auto",
    field: str = "duration_ms",
    function: str | None = None,
) -> Fit:
    """Fit from a JSON-lines access log, or from a Locust stats history (``.csv``).

    The gateway logs end-to-end durations, acquire wait included: calibrate from a
    run at low load, where the wait is negligible, to get service times.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: no such file")
    if path.suffix == ".csv":
        return fit_percentiles(*_locust_percentiles(path), source=path.name)
    return fit_samples(_access_log(path, field, function), family=family, source=path.name)


def _access_log(path: Path, field: str, function: str | None) -> np.ndarray:
    values = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            value = float(record[field])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise CalibrationError(
                f"{path}:{number}: expected a JSON object with a numeric {field!r} field "
                f"(milliseconds) on every line"
            ) from None
        if function is not None and record.get("function") != function:
            continue
        status = record.get("status")
        if isinstance(status, int) and status >= 400:
            continue  # errors and rejections say nothing about service time
        if value > 0:
            values.append(value / 1000)
    if len(values) < 10:
        which = f" of function {function!r}" if function else ""
        raise CalibrationError(
            f"{path}: {len(values)} successful requests{which} with a positive duration; "
            f"need at least 10"
        )
    return np.asarray(values)


def fit_samples(seconds: np.ndarray, *, family: str = "auto", source: str = "samples") -> Fit:
    """Maximum-likelihood fits of each family; the smallest KS distance wins under ``auto``."""
    candidates = FAMILIES if family == "auto" else (family,)
    if family not in (*FAMILIES, "auto"):
        raise CalibrationError(
            f"unknown family {family!r}; choose one of auto, {', '.join(FAMILIES)}"
        )
    fits = {}
    for name in candidates:
        if name == "lognormal":
            sigma, _, scale = stats.lognorm.fit(seconds, floc=0)
            dist = stats.lognorm(sigma, 0, scale)
            median = scale
            params = {"median": median, "p99": float(dist.ppf(0.99))}
        elif name == "gamma":
            shape, _, scale = stats.gamma.fit(seconds, floc=0)
            dist = stats.gamma(shape, 0, scale)
            params = {"shape": shape, "scale": scale}
        else:
            _, scale = stats.expon.fit(seconds, floc=0)
            dist = stats.expon(0, scale)
            params = {"mean": scale}
        fits[name] = (float(stats.kstest(seconds, dist.cdf).statistic), params)
    best = min(fits, key=lambda name: fits[name][0])
    others = ", ".join(f"{n} {d:.3f}" for n, (d, _) in fits.items() if n != best)
    note = (
        f"fitted from {source}: {len(seconds)} samples, mean {seconds.mean() * 1000:.1f} ms, "
        f"p99 {np.percentile(seconds, 99) * 1000:.1f} ms; {best} (KS distance {fits[best][0]:.3f}"
        + (f"; {others})" if others else ")")
    )
    return Fit(best, fits[best][1], fits[best][0], len(seconds), note)


def _locust_percentiles(path: Path) -> tuple[list[float], list[float]]:
    """Median over the rows of each percentile column of the Aggregated line, in seconds."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = [r for r in rows if r.get("Name") == "Aggregated"] or rows
    columns = [
        c
        for c in (rows[0] if rows else {})
        if c.endswith("%") and c[:-1].replace(".", "").isdigit()
    ]
    if not rows or not columns:
        raise CalibrationError(
            f"{path}: not a Locust stats history (expected columns such as '50%', '99%' "
            f"and rows named 'Aggregated'; use the *_stats_history.csv file)"
        )
    levels, quantiles = [], []
    for column in columns:
        values = [
            float(r[column]) for r in rows if r[column] not in ("", "N/A") and float(r[column]) > 0
        ]
        level = float(column[:-1]) / 100
        if values and 0 < level < 1:
            levels.append(level)
            quantiles.append(float(np.median(values)) / 1000)
    if len(levels) < 2:
        raise CalibrationError(f"{path}: fewer than two usable percentile columns")
    return levels, quantiles


def fit_percentiles(levels: list[float], quantiles: list[float], *, source: str) -> Fit:
    """A lognormal through measured percentiles: least squares of log q on the normal quantile."""
    z = stats.norm.ppf(levels)
    sigma, mu = np.polyfit(z, np.log(quantiles), 1)
    if sigma <= 0:
        raise CalibrationError(f"{source}: percentiles do not increase; cannot fit a distribution")
    median = math.exp(mu)
    p99 = math.exp(mu + sigma * stats.norm.ppf(0.99))
    note = (
        f"fitted from {source}: lognormal through {len(levels)} percentiles "
        f"(median {median * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms)"
    )
    return Fit("lognormal", {"median": median, "p99": p99}, None, 0, note)


def calibrate_overhead(path: str | Path, function: str | None = None) -> list[tuple[str, Fit]]:
    """Per function, ``overhead: {kind: constant, value: ...}``: the median method.

    The latency minus the time the worker reported, as a median over the calls.
    """
    path, functions = _load_json(path)
    fits = []
    for name, measured in functions.items():
        outside = (measured or {}).get("time_outside_worker") or {}
        if (function is not None and name != function) or outside.get("median") is None:
            continue
        note = (
            f"measured by {path}: median latency outside the worker over "
            f"{outside['samples']} calls of {name}; paste under functions.{name}"
        )
        value = max(0.0, float(outside["median"]))
        fits.append((name, Fit("constant", {"value": value}, None, outside["samples"], note)))
    if not fits:
        raise CalibrationError(
            f"{path}: no call reported its worker's time; the overhead is measured on a run "
            f"against --target local, legacy or docker"
        )
    return fits


# load.json's derived Server-Timing figures (see loadtests.tally)
_EXCHANGE, _OUTSIDE = "hold-svc", "latency-queue-hold"


@dataclass(frozen=True)
class Calibration:
    """One function's fitted ``overhead`` and ``hold_overhead``, and how they were measured."""

    function: str
    overhead: Fit
    hold_overhead: Fit | None  # None: the run could not measure it
    method: str  # "server-timing" or "median"

    def yaml_blocks(self) -> str:
        blocks = [f"# functions.{self.function} (from {self.method})"]
        blocks.append(self.overhead.yaml_block("overhead"))
        if self.hold_overhead is not None:
            blocks.append(self.hold_overhead.yaml_block("hold_overhead"))
        else:
            blocks.append("# hold_overhead: not measured (the target sent no Server-Timing)")
        return "\n".join(blocks)


def calibrate_run(path: str | Path, function: str | None = None) -> list[Calibration]:
    """Per function, ``overhead`` and ``hold_overhead`` from a load run (folder or load.json).

    The Server-Timing split first; the median method where a function has none.
    """
    path, functions = _load_json(path)
    fallback = {}
    calibrations = []
    for name, measured in functions.items():
        if function is not None and name != function:
            continue
        split = (measured or {}).get("server_timing") or {}
        if _EXCHANGE in split and _OUTSIDE in split:
            overhead = _moments_fit(split[_OUTSIDE], f"latency - queue - hold of {name}", path)
            hold = _moments_fit(split[_EXCHANGE], f"hold - svc (Server-Timing) of {name}", path)
            calibrations.append(Calibration(name, overhead, hold, "server-timing"))
            continue
        if not fallback:
            try:
                fallback = dict(calibrate_overhead(path))
            except CalibrationError:
                fallback = {}
        if name in fallback:
            calibrations.append(Calibration(name, fallback[name], None, "median"))
    if not calibrations:
        raise CalibrationError(
            f"{path}: no call reported its time split (Server-Timing) or its worker's time; "
            f"calibrate from a run against --target local, legacy or docker, or a gateway "
            f"that sends Server-Timing with hold and svc"
        )
    return calibrations


def _moments_fit(figures: dict[str, float], what: str, path: Path) -> Fit:
    """A gamma with the measured mean and standard deviation (a constant when they are 0).

    The mean decides utilisation, so it is matched exactly; the shape follows the spread.
    """
    mean, stdev, samples = float(figures["mean"]), float(figures.get("stdev") or 0.0), 0
    samples = int(figures.get("samples") or 0)
    note = (
        f"measured by {path}: {what} over {samples} calls: mean {mean * 1000:.3f} ms, "
        f"p99 {float(figures.get('p99') or 0) * 1000:.3f} ms"
    )
    if mean <= 0 or stdev <= 0 or not math.isfinite(stdev):
        return Fit("constant", {"value": max(mean, 0.0)}, None, samples, note)
    shape = (mean / stdev) ** 2
    return Fit("gamma", {"shape": shape, "scale": mean / shape}, None, samples, note)


def _load_json(path: str | Path) -> tuple[Path, dict]:
    path = Path(path)
    if path.is_dir():
        path = path / "load.json"
    try:
        functions = json.loads(path.read_text())["functions"]
        if not isinstance(functions, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise CalibrationError(
            f"{path}: not a load.json of `gateproof load` (run one, then pass its --out folder)"
        ) from None
    return path, functions
