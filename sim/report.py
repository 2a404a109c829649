"""The text a person reads after a run: a summary table and the SLO verdict."""

from __future__ import annotations

import math

from sim.results import Estimate, SimResult

__all__ = ["format_summary"]

# worker timeouts are also errors; the column is left out when there are none
_OPTIONAL = {"worker_timeout_rate"}

_COLUMNS = [
    # header, metric, scale, decimals
    ("req/s", "throughput", 1, 1),
    ("p50 ms", "latency_p50", 1000, 1),
    ("p95 ms", "latency_p95", 1000, 1),
    ("p99 ms", "latency_p99", 1000, 1),
    ("mean ms", "latency_mean", 1000, 1),
    ("wait p99 ms", "wait_p99", 1000, 1),
    ("timeout %", "timeout_rate", 100, 3),
    ("worker timeout %", "worker_timeout_rate", 100, 3),  # shown when some call ran into it
    ("reject %", "rejection_rate", 100, 3),
    ("error %", "error_rate", 100, 3),
    ("cold %", "cold_start_rate", 100, 3),
    ("util %", "utilisation", 100, 1),
    ("workers", "mean_workers", 1, 1),
    ("peak", "peak_workers", 1, 0),
]


def _cell(estimate: Estimate | None, scale: float, decimals: int, with_ci: bool) -> str:
    if estimate is None or math.isnan(estimate.mean):
        return "-"
    text = f"{estimate.mean * scale:.{decimals}f}"
    if with_ci and not math.isnan(estimate.low):
        half = (estimate.high - estimate.low) / 2 * scale
        text += f" ±{half:.{decimals}f}"
    return text


def _positive(estimate: Estimate | None) -> bool:
    return estimate is not None and estimate.mean > 0


def format_summary(result: SimResult) -> str:
    """A table per function (mean over replications, ± the 95% CI half-width) and the verdict."""
    scenario = result.scenario
    n = len(result.replications)
    lines = [
        f"scenario {scenario.name}: {n} replication(s) of {scenario.duration:g}s "
        f"(warm-up {scenario.warmup:g}s), seed {result.seed}; ± is the 95% CI half-width",
    ]
    entries = [*result.functions.items()]
    if len(entries) > 1:
        entries.append(("(all)", result.overall))
    columns = [
        column
        for column in _COLUMNS
        if column[1] not in _OPTIONAL or any(_positive(m.get(column[1])) for _, m in entries)
    ]
    rows = [("function", *[header for header, *_ in columns])]
    for name, metrics in entries:
        rows.append(
            (
                name,
                *[
                    _cell(metrics.get(metric), scale, decimals, with_ci=metric == "latency_p99")
                    for _, metric, scale, decimals in columns
                ],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    if not result.slo:
        lines.append("SLO: none set in the scenario")
    elif result.slo_met:
        lines.append(f"SLO: met ({len(result.slo)} check(s))")
    else:
        lines.append("SLO: BREACHED")
        for check in result.slo:
            if not check.ok:
                value, limit = f"{check.value:.4g}", f"{check.limit:g}"
                lines.append(f"  {check.function}: {check.metric} = {value} > limit {limit}")
    return "\n".join(lines)
