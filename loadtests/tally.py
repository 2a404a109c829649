"""Counts Locust does not keep: responses by status and ``code``, lag, contract breaks, splits.

Besides counts, the tally keeps per function the target's ``Server-Timing``
split (a histogram per name) and the run cut into :data:`BATCHES` equal
batches of time, each with its own latency histogram and counts: the batch
means that give each measured figure its confidence interval
(:mod:`loadtests.batch_means`). Histograms are the simulator's
:class:`~sim.histogram.LatencyHistogram` (HdrHistogram), sent between
processes in its compact encoding, so a report's size does not grow with
the number of calls.

A :class:`Tally` lives in each Locust process; workers send theirs to the
master with every stats report (Locust's ``report_to_master`` and
``worker_report`` events) and start again from zero, so the master's tally is
the whole run's, however many processes or machines made the requests.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sim.histogram import LatencyHistogram

__all__ = [
    "BATCHES",
    "CONNECTION_ERROR",
    "EXCHANGE",
    "HOLD",
    "LATE_S",
    "NEVER_REACHED_502",
    "OUTSIDE",
    "QUEUE",
    "REFUSED_CODES",
    "SVC",
    "Tally",
    "decode_histogram",
    "encode_histogram",
    "error_code",
    "refused_name",
]

CONNECTION_ERROR = "connection_error"  # no HTTP status: refused, reset, or dropped
# the reference gateway's Server-Timing names, and the two figures derived from them per call
QUEUE, HOLD, SVC = "queue", "hold", "svc"
EXCHANGE, OUTSIDE = "hold-svc", "latency-queue-hold"
BATCHES = 10  # the measured window is cut into this many batches of equal length
LATE_S = 0.010  # an arrival sent more than this after its scheduled time is late
MAX_SAMPLES = 2000  # time-outside samples per function per report (and 10x that in all)
# the 502 code of a call whose request never reached a worker (the gateway retried it once)
NEVER_REACHED_502 = frozenset({"worker_unreachable"})
# gateway error codes of calls that never reached a worker
REFUSED_CODES = frozenset(
    {"no_capacity", "circuit_open", "rate_limited", "backend_unavailable", *NEVER_REACHED_502}
)


def refused_name(function: str, code: str) -> str:
    """The Locust name of a refused call: its own row, apart from the function's latency."""
    return f"{function} [{code}]"


def error_code(body: bytes | None) -> str | None:
    """The ``code`` of a gateway error body (``{"code": ..., "message": ...}``), if it is one."""
    if not body or not body.lstrip().startswith(b"{"):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    code = document.get("code") if isinstance(document, dict) else None
    return code if isinstance(code, str) else None


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)  # "function status" -> count
    codes: Counter[str] = field(default_factory=Counter)  # "function code" -> count
    broken: Counter[str] = field(default_factory=Counter)  # contract break -> count
    examples: dict[str, str] = field(default_factory=dict)  # contract break -> one example
    # per function, a call's latency minus the time its worker reported (``slept_ms``)
    outside: dict[str, list[float]] = field(default_factory=dict)
    # per function, per Server-Timing name, the durations the target reported
    timing: dict[str, dict[str, LatencyHistogram]] = field(default_factory=dict)
    # per function, per batch ("0".."BATCHES-1"): latency of calls run on a worker, and counts
    batches: dict[str, dict[str, _Batch]] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict, repr=False)
    arrivals: int = 0
    late: int = 0
    lag_sum: float = 0.0
    lag_max: float = 0.0

    def arrival(self, lag: float) -> None:
        """One arrival sent ``lag`` seconds after its scheduled time."""
        self.arrivals += 1
        self.lag_sum += lag
        self.lag_max = max(self.lag_max, lag)
        if lag > LATE_S:
            self.late += 1

    def time_outside(self, function: str, seconds: float) -> None:
        """One call's time outside its worker, kept in a bounded uniform sample (reservoir)."""
        samples = self.outside.setdefault(function, [])
        seen = self._seen[function] = self._seen.get(function, 0) + 1
        if len(samples) < MAX_SAMPLES:
            samples.append(seconds)
        elif (slot := random.randrange(seen)) < MAX_SAMPLES:
            samples[slot] = seconds

    def server_timing(self, function: str, split: dict[str, float], latency: float) -> None:
        """One call's split as the target's ``Server-Timing`` header gave it (seconds).

        Two figures are derived per call, because calibration needs their
        distributions, not a difference of means: ``hold-svc``, the worker held
        beyond its service (from ``hold`` and ``svc``), and ``latency-queue-hold``,
        the time outside the worker as the client saw it (from ``hold``).
        """
        names = self.timing.setdefault(function, {})
        split = dict(split)
        hold = split.get(HOLD)
        if hold is not None:
            if SVC in split:
                split[EXCHANGE] = max(0.0, hold - split[SVC])
            split[OUTSIDE] = max(0.0, latency - split.get(QUEUE, 0.0) - hold)
        for name, seconds in split.items():
            histogram = names.get(name)
            if histogram is None:
                histogram = names[name] = LatencyHistogram()
            histogram.record(seconds)

    def batch(self, function: str, index: int, latency: float | None, code: str | None) -> None:
        """One call of batch ``index``: its latency if it ran on a worker, its error code."""
        batches = self.batches.setdefault(function, {})
        batch = batches.get(str(index))
        if batch is None:
            batch = batches[str(index)] = _Batch()
        batch.requests += 1
        if code is not None:
            batch.codes[code] += 1
        if latency is not None:
            batch.latency.record(latency)

    def response(
        self,
        function: str,
        status: int | None,
        body: bytes | None,
        request_id: str | None,
        detail: str = "",
    ) -> str | None:
        """Count one response; returns the error ``code`` of a non-2xx JSON error body."""
        key = str(status) if status else CONNECTION_ERROR
        self.statuses[f"{function} {key}"] += 1
        if status and 200 <= status < 300:
            return None
        code = error_code(body) if status else None
        self.codes[f"{function} {code or key}"] += 1
        if not status:
            self._break("connection_error", detail or "no HTTP response")
        else:
            if status not in (502, 503, 504):
                self._break(f"status_{status}", f"{function}: {status} {code or ''}".strip())
            if code is None:
                self._break("error_without_json_code", f"{function}: {status} {body[:80]!r}")
            if not request_id:
                self._break("error_without_request_id", f"{function}: {status} {code}")
        return code

    def _break(self, kind: str, example: str) -> None:
        self.broken[kind] += 1
        self.examples.setdefault(kind, example)

    def merge(self, data: dict[str, Any]) -> None:
        """Add a tally sent as :meth:`as_dict` (from a worker)."""
        self.statuses.update(data["statuses"])
        self.codes.update(data["codes"])
        self.broken.update(data["broken"])
        for kind, example in data["examples"].items():
            self.examples.setdefault(kind, example)
        for function, samples in data.get("outside", {}).items():
            mine = self.outside.setdefault(function, [])
            mine.extend(samples[: 10 * MAX_SAMPLES - len(mine)])
        for function, names in data.get("timing", {}).items():
            mine_timing = self.timing.setdefault(function, {})
            for name, encoded in names.items():
                histogram = decode_histogram(encoded)
                if name in mine_timing:
                    mine_timing[name].merge(histogram)
                else:
                    mine_timing[name] = histogram
        for function, batches in data.get("batches", {}).items():
            mine_batches = self.batches.setdefault(function, {})
            for index, sent in batches.items():
                batch = _Batch.from_dict(sent)
                if index in mine_batches:
                    mine_batches[index].add(batch)
                else:
                    mine_batches[index] = batch
        self.arrivals += data["arrivals"]
        self.late += data["late"]
        self.lag_sum += data["lag_sum"]
        self.lag_max = max(self.lag_max, data["lag_max"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "statuses": dict(self.statuses),
            "codes": dict(self.codes),
            "broken": dict(self.broken),
            "examples": dict(self.examples),
            "outside": {function: list(samples) for function, samples in self.outside.items()},
            "timing": {
                function: {name: encode_histogram(h) for name, h in names.items()}
                for function, names in self.timing.items()
            },
            "batches": {
                function: {index: batch.as_dict() for index, batch in batches.items()}
                for function, batches in self.batches.items()
            },
            "arrivals": self.arrivals,
            "late": self.late,
            "lag_sum": self.lag_sum,
            "lag_max": self.lag_max,
        }

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


@dataclass
class _Batch:
    requests: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def add(self, other: _Batch) -> None:
        self.requests += other.requests
        self.codes.update(other.codes)
        self.latency.merge(other.latency)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "codes": dict(self.codes),
            "latency": encode_histogram(self.latency),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Batch:
        return cls(data["requests"], Counter(data["codes"]), decode_histogram(data["latency"]))


def encode_histogram(histogram: LatencyHistogram) -> list[Any]:
    """A JSON-able form: the HdrHistogram's base64 encoding and the exact sum."""
    data, total = histogram.encode()
    return [data.decode("ascii"), total]


def decode_histogram(encoded: list[Any]) -> LatencyHistogram:
    return LatencyHistogram.decode((encoded[0].encode("ascii"), float(encoded[1])))
