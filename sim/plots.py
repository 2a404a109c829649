"""PNG plots of a run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plot_plan", "plot_run"]


def _axes(title: str, ylabel: str, xlabel: str = "time (s)") -> tuple[Any, Any]:
    figure, axes = plt.subplots(figsize=(9, 4), layout="constrained")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    return figure, axes


def _save(figure: Any, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_run(data: dict[str, Any], out: Path) -> list[Path]:
    """Latency, pool occupancy, breaker state and timeouts over time (replication 0)."""
    series = data["series"]
    bucket = series["bucket_seconds"]
    functions = series["functions"]
    paths = []

    def times(values: list[Any]) -> list[float]:
        return [i * bucket for i in range(len(values))]

    figure, axes = _axes(f"{data['scenario']}: latency", "latency (ms)")
    for name, s in functions.items():
        axes.plot(
            times(s["latency_mean"]), [v * 1000 for v in s["latency_mean"]], label=f"{name} mean"
        )
        axes.plot(
            times(s["latency_max"]), [v * 1000 for v in s["latency_max"]], ":", label=f"{name} max"
        )
    axes.legend()
    paths.append(_save(figure, out / "latency.png"))

    figure, axes = _axes(f"{data['scenario']}: pool occupancy", "workers / waiters")
    for name, s in functions.items():
        sampled = [(i + 1) * bucket for i in range(len(s["workers"]))]
        axes.step(sampled, s["workers"], where="post", label=f"{name} workers")
        axes.step(sampled, s["busy"], where="post", label=f"{name} busy")
        axes.step(sampled, s["waiting"], where="post", label=f"{name} waiting")
    axes.legend()
    paths.append(_save(figure, out / "pool.png"))

    figure, axes = _axes(f"{data['scenario']}: circuit breaker", "state")
    for name, s in functions.items():
        sampled = [(i + 1) * bucket for i in range(len(s["breaker"]))]
        axes.step(sampled, s["breaker"], where="post", label=name)
    axes.set_yticks([0, 1, 2], ["closed", "half open", "open"])
    axes.legend()
    paths.append(_save(figure, out / "breaker.png"))

    figure, axes = _axes(f"{data['scenario']}: failures per {bucket:g}s", "requests")
    for name, s in functions.items():
        axes.plot(times(s["timeouts"]), s["timeouts"], label=f"{name} timeouts")
        axes.plot(times(s["rejections"]), s["rejections"], label=f"{name} breaker rejections")
        axes.plot(times(s["errors"]), s["errors"], label=f"{name} errors")
        if any(s.get("worker_timeouts", ())):  # a subset of the errors
            axes.plot(
                times(s["worker_timeouts"]),
                s["worker_timeouts"],
                label=f"{name} worker timeouts (of the errors)",
            )
    axes.legend()
    paths.append(_save(figure, out / "timeouts.png"))
    return paths


def plot_plan(plan: dict[str, Any], out: Path) -> Path:
    """p99 latency and timeout rate against pool size, per function."""
    functions = plan["functions"]
    figure, rows = plt.subplots(
        len(functions), 2, figsize=(10, 3.5 * len(functions)), layout="constrained", squeeze=False
    )
    for (name, entry), (left, right) in zip(functions.items(), rows, strict=True):
        sizes = [point["max_capacity"] for point in entry["points"]]
        p99 = [point["latency_p99"] * 1000 for point in entry["points"]]
        timeouts = [point["timeout_rate"] * 100 for point in entry["points"]]
        left.plot(sizes, p99, "o-")
        left.set_title(f"{name}: p99 latency")
        left.set_xlabel("max_capacity")
        left.set_ylabel("ms")
        right.plot(sizes, timeouts, "o-", color="tab:red")
        right.set_title(f"{name}: timeout rate")
        right.set_xlabel("max_capacity")
        right.set_ylabel("%")
        for axes, limit, scale in (
            (left, entry["slo"].get("p99"), 1000),
            (right, entry["slo"].get("timeout_rate"), 100),
        ):
            if limit is not None:
                axes.axhline(limit * scale, color="gray", linestyle="--", label="SLO")
                axes.legend()
            if entry.get("max_capacity") is not None:
                axes.axvline(entry["max_capacity"], color="tab:green", linestyle=":")
            axes.grid(alpha=0.3)
    return _save(figure, out / "plan.png")
