"""What a load run does over time, computed from a scenario: rates, users, requests.

The runner (to print and check), the Locust shape and the Locust users all ask
this one object, so the process that plans a run and the processes that make
its requests (one, several, or on other machines) agree on every number.

Arrivals are open-model: each user is a Poisson process of rate
``rate(t) / users(t)``, scheduled from its previous *arrival* (not from the end
of its previous response), and there are enough users that a mean gap is
:data:`HEADROOM_S` seconds; a response slower than that only delays that
user's next arrival, and the delay is measured (the run's *lag*).
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass
from typing import Any

from scenarios.schema import (
    Constant,
    Distribution,
    ErrorFault,
    Exponential,
    FunctionLoad,
    LatencyFault,
    Lognormal,
    Scenario,
    Trace,
    WorkerCrashFault,
)
from sim.distributions import rate_segments

__all__ = [
    "HEADROOM_S",
    "INVOKE_PATH",
    "LoadPlan",
    "PlanError",
    "RequestSpec",
    "runtime_environment",
]

HEADROOM_S = 2.0  # mean gap between one user's arrivals: users = rate x HEADROOM_S
INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
_SPAWN_RATE_MIN = 200.0  # users started per second: new users must not lag a step


class PlanError(ValueError):
    """The scenario cannot be replayed as load; the message says what to change."""


@dataclass(frozen=True)
class RequestSpec:
    """How one function is called: the invoke API, or its routed path."""

    function: str
    method: str
    path: str
    payload: Any
    routed: bool


@dataclass(frozen=True)
class LoadPlan:
    """A scenario as load: rates per function over time, users, and each request."""

    scenario: Scenario
    inject: bool  # reference gateway: hand service times and faults to the worker
    user_cap: int | None = None  # --max-users: fewer users than the rate needs

    def __post_init__(self) -> None:
        for name, load in self.scenario.workload.items():
            if isinstance(load.arrivals, Trace):
                raise PlanError(
                    f"workload.{name}: trace arrivals cannot be replayed by `gateproof load` "
                    f"yet; use poisson, steps or spikes"
                )
            if self.inject and load.payload is not None and not isinstance(load.payload, dict):
                raise PlanError(
                    f"workload.{name}.payload: the reference gateway's worker reads its options "
                    f"from a JSON object; give a mapping (or none)"
                )

    # -- rates and users -------------------------------------------------------

    @property
    def duration(self) -> float:
        return self.scenario.duration

    @property
    def warmup(self) -> float:
        return self.scenario.warmup

    @functools.cached_property
    def _segments(self) -> dict[str, list[tuple[float, float, float]]]:
        return {
            name: rate_segments(load.arrivals, self.duration)
            for name, load in self.scenario.workload.items()
        }

    @functools.cached_property
    def _payloads(self) -> dict[str, bytes]:
        """Each function's payload as sent to staging (encoded once: every call asks)."""
        return {
            name: b"" if load.payload is None else json.dumps(load.payload).encode()
            for name, load in self.scenario.workload.items()
        }

    def segments(self, name: str) -> list[tuple[float, float, float]]:
        return self._segments[name]

    def rate(self, name: str, t: float) -> float:
        """The target arrival rate of one function at time ``t`` (requests per second)."""
        for start, end, rate in self.segments(name):
            if start <= t < end:
                return rate
        return 0.0

    def total_rate(self, t: float) -> float:
        return sum(self.rate(name, t) for name in self.scenario.workload)

    def boundaries(self) -> list[float]:
        """Times where some function's rate changes, ascending, ending at the duration."""
        return self._boundaries

    @functools.cached_property
    def _boundaries(self) -> list[float]:
        times = {end for segments in self._segments.values() for _, end, _ in segments}
        return sorted(t for t in times if t <= self.duration)

    @property
    def max_users(self) -> int:
        """The user cap of the run: the busiest moment's users, or ``user_cap`` if lower."""
        peak = max(self.total_rate(start) for start in [0.0, *self.boundaries()][:-1])
        needed = max(1, math.ceil(peak * HEADROOM_S))
        return min(needed, self.user_cap) if self.user_cap else needed

    def users(self, t: float) -> int:
        """Users running at time ``t``: one per :data:`HEADROOM_S` of mean gap, at least 1."""
        return min(self.max_users, max(1, math.ceil(self.total_rate(t) * HEADROOM_S)))

    @property
    def spawn_rate(self) -> float:
        return max(_SPAWN_RATE_MIN, float(self.max_users))

    def expected_requests(self, start: float, end: float, function: str | None = None) -> float:
        """The mean number of arrivals the scenario asks for in ``[start, end)``."""
        total = 0.0
        for name in [function] if function else self.scenario.workload:
            for seg_start, seg_end, rate in self.segments(name):
                overlap = min(end, seg_end) - max(start, seg_start)
                if overlap > 0:
                    total += overlap * rate
        return total

    def next_arrival(self, after: float, rng: random.Random) -> float:
        """One user's next arrival after ``after`` (``inf`` if none before the end).

        The per-user rate is piecewise constant, so a gap that crosses a change
        is dropped and drawn again from the change (exact by memorylessness).
        """
        t = after
        for boundary in self.boundaries():
            if boundary <= t:
                continue
            rate = self.total_rate(t) / self.users(t)
            if rate > 0:
                candidate = t + rng.expovariate(rate)
                if candidate < boundary:
                    return candidate
            t = boundary
        return math.inf

    def pick(self, t: float, rng: random.Random) -> str:
        """The function of an arrival at ``t``, drawn in proportion to the rates."""
        names = list(self.scenario.workload)
        if len(names) == 1:
            return names[0]
        weights = [self.rate(name, t) for name in names]
        if not any(weights):
            return names[0]
        return rng.choices(names, weights)[0]

    # -- requests --------------------------------------------------------------

    def request(self, name: str) -> RequestSpec:
        load: FunctionLoad = self.scenario.workload[name]
        if load.path is not None:
            return RequestSpec(name, load.method.upper(), load.path, load.payload, True)
        return RequestSpec(name, "POST", INVOKE_PATH.format(name=name), load.payload, False)

    def body(self, name: str, t: float, rng: random.Random) -> bytes:
        """The request body at time ``t``; on the reference, the call's behaviour is in it.

        The worker draws its service time from its own settings when it can
        (:func:`runtime_environment`); otherwise, and inside a latency fault,
        the call carries ``sleep_ms``. Errors and crashes (the function's
        ``error_rate`` and fault windows) are decided here, per call.
        """
        if not self.inject:
            return self._payloads[name]
        options = dict(self.scenario.workload[name].payload or {})
        spec = self.scenario.functions[name]
        extra = 0.0
        error_rate, crash_rate = spec.error_rate, 0.0
        for fault in self.scenario.faults:
            if fault.function not in (None, name) or not fault.start <= t < fault.end:
                continue
            if isinstance(fault, ErrorFault):
                error_rate = fault.rate
            elif isinstance(fault, WorkerCrashFault):
                crash_rate = fault.rate
            elif isinstance(fault, LatencyFault):
                extra += draw(fault.extra, rng)
        if extra > 0 or runtime_distribution(spec.service) is None:
            options["sleep_ms"] = round((draw(spec.service, rng) + extra) * 1000, 3)
        if crash_rate and rng.random() < crash_rate:
            options["crash"] = True
        elif error_rate and rng.random() < error_rate:
            options["fail"] = True
        return json.dumps(options).encode()


def draw(spec: Distribution, rng: random.Random) -> float:
    """One draw (seconds) of a scenario distribution with the standard library's generator."""
    if isinstance(spec, Constant):
        return spec.value
    if isinstance(spec, Exponential):
        return rng.expovariate(1.0 / spec.mean)
    if isinstance(spec, Lognormal):
        mu, sigma = spec.params
        return rng.lognormvariate(mu, sigma)
    if spec.kind == "gamma":
        return rng.gammavariate(spec.shape, spec.scale)
    return rng.choice(spec.samples())


def runtime_distribution(spec: Distribution) -> str | None:
    """The runtime's ``GATEPROOF_SLEEP_DISTRIBUTION`` for ``spec``, if it has one (in ms)."""
    if isinstance(spec, Constant):
        return f"constant:{spec.value * 1000:g}"
    if isinstance(spec, Exponential):
        return f"exponential:{spec.mean * 1000:g}"
    if isinstance(spec, Lognormal):
        mu, sigma = spec.params
        return f"lognormal:{math.exp(mu) * 1000:g}:{sigma:g}"
    return None


def runtime_environment(scenario: Scenario, name: str) -> dict[str, str]:
    """The ``GATEPROOF_*`` settings of a reference worker that behaves as the scenario says.

    A worker cold-starts for the mean of the scenario's cold-start
    distribution (the runtime takes one value per worker).
    """
    spec = scenario.functions[name]
    env = {
        "GATEPROOF_FUNCTION": "sleep",
        "GATEPROOF_COLD_START_MS": f"{spec.cold_start.mean * 1000:g}",
    }
    distribution = runtime_distribution(spec.service)
    if distribution is not None:
        env["GATEPROOF_SLEEP_DISTRIBUTION"] = distribution
    return env
