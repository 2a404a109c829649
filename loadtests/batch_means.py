"""A measured figure's 95% interval from one run: the method of batch means.

Why: near saturation one run's p99 is itself noisy, and calls close in time
are correlated (they share the queue), so the spread of single calls says
nothing about the spread of the figure. Cutting the measured window into
:data:`~loadtests.tally.BATCHES` equal batches of time and treating each
batch's figure as one observation gives a t-based interval whose width falls
as one over the square root of the run's length (Law & Kelton, *Simulation
Modeling and Analysis*, ch. 9.5.3). The interval is centred on the whole run's
figure; its half-width is the batches' standard error times Student's t.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from scipy import stats

from loadtests.tally import REFUSED_CODES, decode_histogram

__all__ = ["FIGURES", "batch_figures", "half_widths", "run_length_for"]

FIGURES = ("mean", "p99", "timeout_rate", "error_rate")
_TIMEOUT_CODES = ("no_capacity",)


def batch_figures(batches: dict[str, dict[str, Any]]) -> list[dict[str, float]]:
    """Each batch's figures, in time order, from the tally's encoded batches."""
    figures = []
    for index in sorted(batches, key=int):
        batch = batches[index]
        requests = int(batch["requests"])
        codes = batch.get("codes", {})
        timeouts = sum(codes.get(c, 0) for c in _TIMEOUT_CODES)
        errors = sum(n for code, n in codes.items() if code not in REFUSED_CODES)
        latency = decode_histogram(batch["latency"])
        figures.append(
            {
                "batch": int(index),
                "requests": requests,
                "mean": latency.mean,
                "p99": latency.percentile(99),
                "timeout_rate": timeouts / requests if requests else math.nan,
                "error_rate": errors / requests if requests else math.nan,
            }
        )
    return figures


def half_widths(figures: list[dict[str, float]], level: float = 0.95) -> dict[str, float | None]:
    """Per figure, the interval's half-width (None with fewer than two usable batches)."""
    widths: dict[str, float | None] = {}
    for name in FIGURES:
        values = [f[name] for f in figures if not math.isnan(f[name])]
        if len(values) < 2:
            widths[name] = None
            continue
        t = float(stats.t.ppf((1 + level) / 2, len(values) - 1))
        widths[name] = t * statistics.stdev(values) / math.sqrt(len(values))
    return widths


def run_length_for(half_width: float, wanted: float, seconds: float) -> float:
    """Seconds of run for ``half_width`` (got from ``seconds`` of run) to shrink to ``wanted``."""
    if wanted <= 0:
        return math.inf
    return seconds * (half_width / wanted) ** 2
