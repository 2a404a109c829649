"""Streaming percentiles for latencies and waits.

The model records every request, and a run may have tens of millions of them:
keeping the values would make memory grow with the run. An HdrHistogram (the
``hdrhistogram`` package) keeps counts in log-linear buckets with a fixed
relative precision (3 significant digits here), so its memory is fixed by the
value range, its percentiles are within 0.1%, and histograms of replications
merge exactly by adding counts.

Recording one value at a time in the pure-Python HdrHistogram would cost more
than simulating the request, so values are buffered (a bounded block) and
flushed with numpy: each block is rounded to 3 significant digits, the
histogram's own precision, and each distinct value is recorded once with its
count. The exact sum is kept beside it for the mean.
"""

from __future__ import annotations

import numpy as np
from hdrh.histogram import HdrHistogram

__all__ = ["LatencyHistogram"]

_UNIT = 1_000_000  # values are recorded in microseconds
_HIGHEST = 24 * 3600 * _UNIT  # a day: anything slower is clamped
_DIGITS = 3
_BLOCK = 32_768


class LatencyHistogram:
    """Durations in seconds, with percentiles in seconds."""

    __slots__ = ("_buffer", "_hist", "_zeros", "total")

    def __init__(self) -> None:
        self._hist = HdrHistogram(1, _HIGHEST, _DIGITS)
        self._buffer: list[float] = []
        self._zeros = 0
        self.total = 0.0

    def record(self, seconds: float) -> None:
        buffer = self._buffer
        buffer.append(seconds)
        if len(buffer) >= _BLOCK:
            self._flush()

    def record_zeros(self, count: int) -> None:
        """Record ``count`` zero durations at once (waits of requests that found a worker)."""
        self._zeros += count

    @property
    def count(self) -> int:
        return self._hist.get_total_count() + len(self._buffer) + self._zeros

    @property
    def mean(self) -> float:
        self._flush()
        count = self.count
        return self.total / count if count else float("nan")

    @property
    def stdev(self) -> float:
        """The standard deviation (of the values as the histogram keeps them: 3 digits)."""
        self._flush()
        count = self.count
        return self._hist.get_stddev() / _UNIT if count else float("nan")

    def percentile(self, percent: float) -> float:
        self._flush()
        if not self.count:
            return float("nan")
        return self._hist.get_value_at_percentile(percent) / _UNIT

    def percentiles(self, percents: list[float]) -> dict[float, float]:
        """Several percentiles in one pass over the buckets (one pass costs ~10k steps)."""
        self._flush()
        if not self.count:
            return {percent: float("nan") for percent in percents}
        values = self._hist.get_percentile_to_value_dict(percents)
        return {percent: values[percent] / _UNIT for percent in percents}

    def merge(self, other: LatencyHistogram) -> None:
        self._flush()
        other._flush()
        self._hist.add(other._hist)
        self.total += other.total

    def encode(self) -> tuple[bytes, float]:
        """A compact picklable form (the counts are ctypes arrays, which do not pickle)."""
        self._flush()
        return self._hist.encode(), self.total

    @classmethod
    def decode(cls, encoded: tuple[bytes, float]) -> LatencyHistogram:
        histogram = cls()
        data, histogram.total = encoded
        decoded = HdrHistogram.decode(data)
        if decoded.get_total_count():
            histogram._hist = decoded
        return histogram

    def _flush(self) -> None:
        if self._zeros:
            self._hist.record_value(0, self._zeros)
            self._zeros = 0
        if not self._buffer:
            return
        seconds = np.asarray(self._buffer, dtype=float)
        self._buffer.clear()
        self.total += float(seconds.sum())
        micros = np.clip(seconds * _UNIT, 0, _HIGHEST)
        values, counts = np.unique(_round_significant(micros), return_counts=True)
        record = self._hist.record_value
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            record(int(value), count)


def _round_significant(values: np.ndarray) -> np.ndarray:
    """Round to ``_DIGITS`` significant digits (the histogram keeps no more)."""
    positive = values > 0
    step = np.ones_like(values)
    exponents = np.floor(np.log10(values, where=positive, out=np.zeros_like(values)))
    step[positive] = 10.0 ** np.maximum(exponents[positive] - (_DIGITS - 1), 0)
    return np.round(values / step) * step
