"""What a scenario file may say: functions, workload, faults, breaker, SLOs.

One scenario drives both the simulator and the load tests, so the workload is
described neutrally (requests per second per function, optional payload and
target path) and a function's pool config is the gateway's own
:class:`ScalingConfig`, not a copy. Every model forbids unknown keys, so a typo
is an error instead of a silently ignored setting. Times are in seconds.
"""

from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reference.gateway.core.breaker import BreakerConfig
from reference.gateway.models.function import FunctionEntity
from reference.gateway.models.scaling import ScalingConfig

__all__ = [
    "SLO",
    "Arrivals",
    "BreakerConfig",
    "Constant",
    "Distribution",
    "Empirical",
    "Exponential",
    "Fault",
    "FunctionLoad",
    "FunctionSpec",
    "Gamma",
    "Lognormal",
    "Poisson",
    "ScalingConfig",
    "Scenario",
    "Spike",
    "Spikes",
    "Step",
    "Steps",
    "Trace",
]

_Z99 = 2.3263478740408408  # standard normal quantile at 0.99


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(path: str, info: ValidationInfo) -> str:
    """Resolve a data file relative to the scenario file that names it, and check it exists."""
    base = (info.context or {}).get("base_dir")
    resolved = Path(path) if base is None else Path(base) / path
    if not resolved.is_file():
        raise ValueError(
            f"file {str(resolved)!r} does not exist (paths are relative to the scenario file)"
        )
    return str(resolved)


class _DataFile(_Strict):
    """A part read from a data file named relative to the scenario file."""

    file: str

    @field_validator("file")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        return _resolve(value, info)


# -- distributions -----------------------------------------------------------


class Constant(_Strict):
    """Always the same value."""

    kind: Literal["constant"] = "constant"
    value: float = Field(ge=0)

    @property
    def mean(self) -> float:
        return self.value


class Exponential(_Strict):
    kind: Literal["exponential"]
    mean: float = Field(gt=0)


class Lognormal(_Strict):
    """Give either ``median`` and ``p99`` (what dashboards show) or ``mu`` and ``sigma``."""

    kind: Literal["lognormal"]
    median: float | None = Field(default=None, gt=0)
    p99: float | None = Field(default=None, gt=0)
    mu: float | None = None
    sigma: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_parametrisation(self) -> Self:
        by_quantiles = self.median is not None and self.p99 is not None
        by_params = self.mu is not None and self.sigma is not None
        partial = [self.median, self.p99, self.mu, self.sigma].count(None) not in (2,)
        if by_quantiles == by_params or partial:
            raise ValueError("give exactly one pair: (median, p99) or (mu, sigma)")
        if by_quantiles and self.p99 <= self.median:  # type: ignore[operator]
            raise ValueError(f"p99 ({self.p99}) must be above median ({self.median})")
        return self

    @property
    def params(self) -> tuple[float, float]:
        """(mu, sigma) of the underlying normal."""
        if self.mu is not None and self.sigma is not None:
            return self.mu, self.sigma
        assert self.median is not None and self.p99 is not None
        return math.log(self.median), (math.log(self.p99) - math.log(self.median)) / _Z99

    @property
    def mean(self) -> float:
        mu, sigma = self.params
        return math.exp(mu + sigma * sigma / 2)


class Gamma(_Strict):
    kind: Literal["gamma"]
    shape: float = Field(gt=0)
    scale: float = Field(gt=0)

    @property
    def mean(self) -> float:
        return self.shape * self.scale


class Empirical(_DataFile):
    """Samples drawn with replacement from a file: one number (seconds) per line."""

    kind: Literal["empirical"]

    def samples(self) -> list[float]:
        return list(_read_numbers(self.file))

    @property
    def mean(self) -> float:
        values = _read_numbers(self.file)
        return sum(values) / len(values)


def _read_numbers(path: str) -> tuple[float, ...]:
    """The numbers in a data file, parsed once per file version (every replication asks)."""
    stat = Path(path).stat()
    return _parse_numbers(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _parse_numbers(path: str, _mtime_ns: int, _size: int) -> tuple[float, ...]:
    values: list[float] = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise ValueError(f"{path}:{number}: {text!r} is not a number") from None
    if not values:
        raise ValueError(f"{path}: no numbers found; put one value (seconds) per line")
    return tuple(values)


Distribution = Annotated[
    Constant | Exponential | Lognormal | Gamma | Empirical, Field(discriminator="kind")
]


# -- workload ----------------------------------------------------------------


class Poisson(_Strict):
    kind: Literal["poisson"]
    rate: float = Field(ge=0, description="requests per second")


class Step(_Strict):
    at: float = Field(ge=0)
    rate: float = Field(ge=0)


class Steps(_Strict):
    """Piecewise-constant Poisson rate: each step holds from ``at`` until the next."""

    kind: Literal["steps"]
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _ordered(cls, steps: list[Step]) -> list[Step]:
        if steps[0].at != 0:
            raise ValueError("the first step must start at 0")
        if any(b.at <= a.at for a, b in itertools.pairwise(steps)):
            raise ValueError("steps must be in strictly increasing order of 'at'")
        return steps


class Spike(_Strict):
    start: float = Field(ge=0)
    duration: float = Field(gt=0)
    multiplier: float = Field(gt=0, description="rate during the spike = base rate x multiplier")


class Spikes(_Strict):
    """A base Poisson rate with spikes (non-overlapping windows)."""

    kind: Literal["spikes"]
    rate: float = Field(ge=0)
    spikes: list[Spike] = Field(min_length=1)

    @field_validator("spikes")
    @classmethod
    def _disjoint(cls, spikes: list[Spike]) -> list[Spike]:
        ordered = sorted(spikes, key=lambda spike: spike.start)
        for a, b in itertools.pairwise(ordered):
            if b.start < a.start + a.duration:
                raise ValueError(f"spikes at {a.start} and {b.start} overlap")
        return ordered


class Trace(_DataFile):
    """Replayed arrivals: one timestamp (seconds from the start) per line, ascending."""

    kind: Literal["trace"]

    def timestamps(self) -> list[float]:
        values = _read_numbers(self.file)
        if any(b < a for a, b in itertools.pairwise(values)):
            raise ValueError(f"{self.file}: timestamps must be ascending")
        return list(values)


Arrivals = Annotated[Poisson | Steps | Spikes | Trace, Field(discriminator="kind")]


class FunctionLoad(_Strict):
    """Traffic to one function; ``payload``, ``path`` and ``method`` are for load generators."""

    arrivals: Arrivals
    payload: Any = None
    path: str | None = Field(default=None, description="routed path; default: the invoke API")
    method: str = "POST"


# -- functions, faults, SLOs ---------------------------------------------------


class SLO(_Strict):
    """Limits each function must meet (latencies in seconds, rates as fractions)."""

    p50: float | None = Field(default=None, gt=0)
    p95: float | None = Field(default=None, gt=0)
    p99: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    timeout_rate: float | None = Field(default=None, ge=0, le=1)
    cold_start_rate: float | None = Field(default=None, ge=0, le=1)


class FunctionSpec(_Strict):
    scaling: ScalingConfig = ScalingConfig()
    service: Distribution
    cold_start: Distribution = Constant(value=0.0)
    error_rate: float = Field(default=0.0, ge=0, le=1, description="invocations that fail")
    provision_failure_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_seconds: float = Field(
        default=FunctionEntity.model_fields["timeout_seconds"].default,
        gt=0,
        description="a call running longer is answered 504 and its worker evicted "
        "(default: the gateway's own, FunctionEntity.timeout_seconds)",
    )
    overhead: Distribution = Field(
        default=Constant(value=0.0),
        description="time a call spends outside its worker, added to its latency only: the "
        "gateway's own work, the network, the load generator (measure it with "
        "`gateproof sim calibrate LOAD_DIR`)",
    )
    hold_overhead: Distribution = Field(
        default=Constant(value=0.0),
        description="time the worker is held beyond its service time (the gateway's exchange "
        "with it, from acquire to release): it adds to latency AND keeps the worker busy, so "
        "it counts in utilisation (measure it with `gateproof sim calibrate LOAD_DIR`)",
    )
    slo: SLO | None = Field(default=None, description="replaces the scenario's SLO for this one")

    @model_validator(mode="after")
    def _hold_overhead_below_timeout(self) -> Self:
        if self.hold_overhead.mean >= self.timeout_seconds:
            raise ValueError(
                f"hold_overhead has a mean of {self.hold_overhead.mean:g} s, not below "
                f"timeout_seconds ({self.timeout_seconds:g}): the exchange alone would time "
                f"every call out; it is in seconds (a few ms is 0.003), measure it with "
                f"`gateproof sim calibrate LOAD_DIR`"
            )
        return self


class _FaultBase(_Strict):
    function: str | None = Field(default=None, description="None: every function")
    start: float = Field(ge=0)
    duration: float = Field(gt=0)

    @property
    def end(self) -> float:
        return self.start + self.duration


class ErrorFault(_FaultBase):
    kind: Literal["errors"]
    rate: float = Field(ge=0, le=1, description="invocations that fail inside the window")


class LatencyFault(_FaultBase):
    kind: Literal["latency"]
    extra: Distribution


class WorkerCrashFault(_FaultBase):
    kind: Literal["worker_crash"]
    rate: float = Field(ge=0, le=1, description="invocations whose worker dies (and is evicted)")


Fault = Annotated[ErrorFault | LatencyFault | WorkerCrashFault, Field(discriminator="kind")]


class Scenario(_Strict):
    name: str
    description: str = ""
    duration: float = Field(gt=0)
    warmup: float = Field(default=0.0, ge=0)
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=5, ge=1, le=10_000)
    janitor_interval: float = Field(
        default=10.0,
        gt=0,
        description="how often idle workers are pruned and pools topped up to min_capacity",
    )
    functions: dict[str, FunctionSpec] = Field(min_length=1)
    workload: dict[str, FunctionLoad] = Field(min_length=1)
    faults: list[Fault] = []
    breaker: BreakerConfig | None = None
    slo: SLO = SLO()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.warmup >= self.duration:
            raise ValueError(f"warmup ({self.warmup}) must be below duration ({self.duration})")
        known = set(self.functions)
        names = ", ".join(sorted(known))
        for name in self.workload:
            if name not in known:
                raise ValueError(f"workload names function {name!r}, not in functions ({names})")
        for fault in self.faults:
            if fault.function is not None and fault.function not in known:
                raise ValueError(
                    f"fault names function {fault.function!r}, not in functions ({names})"
                )
        return self
