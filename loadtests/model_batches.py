"""The measured run's batch means against the model's, batch for batch.

Why: near saturation on a small pool one run's mean is itself a random
quantity (a 2-minute excursion of the queue can move a 20-minute mean by
10%), so a point error judges the run's luck as much as the model. The model's
own replications, cut into batches as long as the run's, give the
distribution a batch mean has under the model; a two-sample test then asks
whether the run's batch means could come from it. The replications' time
series (per-second served, errors and mean latency) carry everything needed,
so this costs no extra simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["batch_check", "model_batch_means"]

CONSISTENT_P = 0.05  # below this, the run's batch means are unlikely under the model


def model_batch_means(
    replications: Sequence[dict[str, Any]],
    function: str,
    *,
    warmup: float,
    window: float,
    batches: int,
) -> list[float]:
    """Mean latency of every batch of every replication, batches as the load run cuts them.

    Empty when a batch is shorter than the model's time-series bucket (1 s or more).
    """
    means: list[float] = []
    length = window / batches
    for replication in replications:
        series = replication["series"]
        bucket = float(series["bucket_seconds"])
        if length < bucket:
            return []
        data = series["functions"][function]
        for index in range(batches):
            first = round((warmup + index * length) / bucket)
            last = round((warmup + (index + 1) * length) / bucket)
            total = count = 0.0
            for i in range(first, min(last, len(data["latency_mean"]))):
                done = data["served"][i] + data["errors"][i]
                if done and not math.isnan(data["latency_mean"][i]):
                    total += data["latency_mean"][i] * done
                    count += done
            if count:
                means.append(total / count)
    return means


def batch_check(measured: Sequence[float], model: Sequence[float]) -> dict[str, Any] | None:
    """A two-sample Kolmogorov-Smirnov test of the run's batch means against the model's.

    None when either side has fewer than two batches.
    """
    from scipy import stats

    measured = [m for m in measured if not math.isnan(m)]
    model = [m for m in model if not math.isnan(m)]
    if len(measured) < 2 or len(model) < 2:
        return None
    result = stats.ks_2samp(measured, model)
    ordered = sorted(model)
    return {
        "measured": list(measured),
        "model_batches": len(model),
        "model_range": [ordered[0], ordered[-1]],
        "ks_statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "consistent": bool(result.pvalue >= CONSISTENT_P),
    }
