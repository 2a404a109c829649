"""Streaming percentiles for latencies and waits.

The model records every request, and a run may have tens of millions of them:
keeping the values would make memory grow with the run. An HdrHistogram (the
``hdrhistogram`` package) keeps counts in log-linear buckets with a fixed
relative precision (3 significant digits here), so its memory is fixed by the
value range, its percentiles are within 0.1%, and histograms of replications
merge exactly by adding counts. The exact sum is kept beside it for the mean.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

__all__ = ["LatencyHistogram"]

_UNIT = 1_000_000  # values are recorded in microseconds
_HIGHEST = 24 * 3600 * _UNIT  # a day: anything slower is clamped


class LatencyHistogram:
    """Durations in seconds, with percentiles in seconds."""

    __slots__ = ("_hist", "count", "total")

    def __init__(self) -> None:
        self._hist = HdrHistogram(1, _HIGHEST, 3)
        self.count = 0
        self.total = 0.0

    def record(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        value = int(seconds * _UNIT)
        self._hist.record_value(value if value < _HIGHEST else _HIGHEST)

    def record_zeros(self, count: int) -> None:
        """Record ``count`` zero durations at once (waits of requests that found a worker)."""
        if count:
            self.count += count
            self._hist.record_value(0, count)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def percentile(self, percent: float) -> float:
        if not self.count:
            return float("nan")
        return self._hist.get_value_at_percentile(percent) / _UNIT

    def merge(self, other: LatencyHistogram) -> None:
        self._hist.add(other._hist)
        self.count += other.count
        self.total += other.total

    def encode(self) -> tuple[bytes, int, float]:
        """A compact picklable form (the counts are ctypes arrays, which do not pickle)."""
        return self._hist.encode(), self.count, self.total

    @classmethod
    def decode(cls, encoded: tuple[bytes, int, float]) -> LatencyHistogram:
        histogram = cls()
        data, histogram.count, histogram.total = encoded
        if histogram.count:
            histogram._hist = HdrHistogram.decode(data)
        return histogram
