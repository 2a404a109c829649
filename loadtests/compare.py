"""Predicted beside measured: the simulator on the same scenario, next to the load run.

Latencies are compared by relative error, ``(measured - predicted) /
predicted``; timeout and error rates by their difference in percentage
points (a relative error of rates near zero says nothing). Where they
disagree, the disagreement is the finding: ``gateproof sim calibrate`` can
measure the run's own overhead (see :mod:`sim.calibrate`) for the next run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from loadtests.results import FunctionMeasure, LoadResult
from sim.results import SimResult

__all__ = ["METRICS", "comparison", "format_comparison", "plot_comparison", "predict"]

# label, field of FunctionMeasure, key in the simulator's results, kind
METRICS = (
    ("mean", "mean", "latency_mean", "latency"),
    ("p50", "p50", "latency_p50", "latency"),
    ("p95", "p95", "latency_p95", "latency"),
    ("p99", "p99", "latency_p99", "latency"),
    ("timeout rate", "timeout_rate", "timeout_rate", "rate"),
    ("error rate", "error_rate", "error_rate", "rate"),
)


def predict(result: LoadResult, *, replications: int | None = None) -> SimResult:
    """Run the simulator on the load run's scenario (same overrides, same seed)."""
    from sim.replications import simulate

    return simulate(result.scenario, replications=replications)


def _error(kind: str, predicted: float, measured: float) -> float:
    if math.isnan(predicted) or math.isnan(measured):
        return math.nan
    if kind == "rate":
        return measured - predicted
    return (measured - predicted) / predicted if predicted else math.nan


def _rows(measure: FunctionMeasure, simulated: dict[str, Any]) -> dict[str, dict[str, float]]:
    rows = {}
    for label, field, key, kind in METRICS:
        predicted = float(simulated[key].mean) if key in simulated else math.nan
        measured = float(getattr(measure, field))
        rows[label] = {
            "predicted": predicted,
            "measured": measured,
            "error": _error(kind, predicted, measured),
            "kind": kind,
        }
    return rows


def comparison(result: LoadResult, sim: SimResult) -> dict[str, Any]:
    """Per function and overall: each metric predicted, measured, and the error."""
    return {
        "replications": len(sim.replications),
        "functions": {
            name: _rows(measure, sim.functions[name])
            for name, measure in result.functions.items()
            if name in sim.functions
        },
        "overall": _rows(result.overall, sim.overall),
    }


def _cell(kind: str, value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value * 1000:.1f} ms" if kind == "latency" else f"{value:.2%}"


def _error_cell(kind: str, value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:+.1%}" if kind == "latency" else f"{value * 100:+.2f} pp"


def format_comparison(data: dict[str, Any]) -> str:
    """A Markdown table: function, metric, predicted, measured, error."""
    lines = [
        f"Predicted ({data['replications']} simulator replications) beside measured",
        "",
        "| function | metric | predicted | measured | error |",
        "|---|---|---|---|---|",
    ]
    for name, rows in [*data["functions"].items(), ("(overall)", data["overall"])]:
        for label, row in rows.items():
            kind = row["kind"]
            lines.append(
                f"| {name} | {label} | {_cell(kind, row['predicted'])} | "
                f"{_cell(kind, row['measured'])} | {_error_cell(kind, row['error'])} |"
            )
    return "\n".join(lines)


def plot_comparison(data: dict[str, Any], path: Path) -> Path:
    """Latency percentiles and rates, predicted beside measured, one group per function."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(data["functions"].items()) or [("overall", data["overall"])]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 1]})
    for ax, kind, scale, unit in ((axes[0], "latency", 1000, "ms"), (axes[1], "rate", 100, "%")):
        labels, predicted, measured = [], [], []
        for name, rows in groups:
            for label, row in rows.items():
                if row["kind"] == kind:
                    labels.append(f"{name}\n{label}" if len(groups) > 1 else label)
                    predicted.append(_finite(row["predicted"]) * scale)
                    measured.append(_finite(row["measured"]) * scale)
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], predicted, width=0.4, label="predicted (sim)")
        ax.bar([x + 0.2 for x in xs], measured, width=0.4, label="measured (load)")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title("latency" if kind == "latency" else "timeout and error rate")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else value
