"""Counts Locust does not keep: every response by status and error ``code``, lag, contract breaks.

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

__all__ = [
    "CONNECTION_ERROR",
    "LATE_S",
    "NEVER_REACHED_502",
    "REFUSED_CODES",
    "Tally",
    "error_code",
    "refused_name",
]

CONNECTION_ERROR = "connection_error"  # no HTTP status: refused, reset, or dropped
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
            "arrivals": self.arrivals,
            "late": self.late,
            "lag_sum": self.lag_sum,
            "lag_max": self.lag_max,
        }

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]
