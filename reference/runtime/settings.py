"""What a runtime worker does, read once from its environment.

A worker's behaviour comes from the function's ``environment`` in
``functions.yml``, so the same settings reach a local subprocess, a Docker
container and an in-process app. Every variable is optional:

==============================  ==============================================
``GATEPROOF_FUNCTION``          ``echo`` (default), ``sleep``, ``fail``, ``cpu``
``GATEPROOF_COLD_START_MS``     delay before the server accepts calls (0)
``GATEPROOF_SLEEP_MS``          ``sleep``: fixed latency when the payload has none (0)
``GATEPROOF_SLEEP_DISTRIBUTION``  ``sleep``: latency distribution, overrides the
                                fixed value: ``constant:MS``, ``uniform:LO:HI``,
                                ``exponential:MEAN``, ``lognormal:MEDIAN:SIGMA``
``GATEPROOF_FAIL_RATE``         ``fail``: probability of failing a call (1.0)
``GATEPROOF_FAIL_MODE``         ``fail``: ``error`` (200 with ``errorType``),
                                ``status`` (a 5xx) or ``crash`` (the worker dies)
``GATEPROOF_FAIL_STATUS``       ``fail``: the status of ``status`` mode (500)
``GATEPROOF_CPU_MS``            ``cpu``: CPU time burnt per call (10)
``GATEPROOF_SEED``              seed of the random draws (unseeded)
==============================  ==============================================
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["FUNCTIONS", "FailMode", "LatencyDistribution", "RuntimeSettings", "SettingsError"]

FUNCTIONS = ("echo", "sleep", "fail", "cpu")
FailMode = Literal["error", "status", "crash"]
_FAIL_MODES = ("error", "status", "crash")
_ENV_PREFIX = "GATEPROOF_"


class SettingsError(ValueError):
    """A runtime setting is malformed; the message names the variable and the fix."""


@dataclass(frozen=True, slots=True)
class LatencyDistribution:
    """A latency distribution in milliseconds, parsed from ``kind:param[:param]``."""

    kind: Literal["constant", "uniform", "exponential", "lognormal"]
    params: tuple[float, ...]

    @classmethod
    def parse(cls, text: str) -> LatencyDistribution:
        arity = {"constant": 1, "uniform": 2, "exponential": 1, "lognormal": 2}
        kind, _, rest = text.strip().partition(":")
        if kind not in arity:
            raise SettingsError(
                f"unknown latency distribution {text!r}: use constant:MS, uniform:LO:HI, "
                f"exponential:MEAN or lognormal:MEDIAN:SIGMA"
            )
        try:
            params = tuple(float(part) for part in rest.split(":")) if rest else ()
        except ValueError:
            raise SettingsError(
                f"latency distribution {text!r} has a non-numeric parameter"
            ) from None
        if len(params) != arity[kind] or any(p < 0 or not math.isfinite(p) for p in params):
            raise SettingsError(
                f"latency distribution {text!r} needs {arity[kind]} finite non-negative "
                f"parameter(s) after {kind!r}"
            )
        return cls(kind, params)  # type: ignore[arg-type]

    def sample(self, rng: random.Random) -> float:
        """One latency in milliseconds, never negative."""
        p = self.params
        if self.kind == "constant":
            return p[0]
        if self.kind == "uniform":
            return rng.uniform(min(p), max(p))
        if self.kind == "exponential":
            return rng.expovariate(1.0 / p[0]) if p[0] > 0 else 0.0
        return rng.lognormvariate(math.log(p[0]), p[1]) if p[0] > 0 else 0.0


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """The worker's configuration; build it with keywords or :meth:`from_env`."""

    function: str = "echo"
    cold_start_ms: float = 0.0
    sleep_ms: float = 0.0
    sleep_distribution: LatencyDistribution | None = None
    fail_rate: float = 1.0
    fail_mode: FailMode = "error"
    fail_status: int = 500
    cpu_ms: float = 10.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise SettingsError(
                f"unknown function {self.function!r} in GATEPROOF_FUNCTION: "
                f"choose one of {', '.join(FUNCTIONS)}"
            )
        if not 0.0 <= self.fail_rate <= 1.0:
            raise SettingsError(f"GATEPROOF_FAIL_RATE must be in [0, 1], got {self.fail_rate}")
        if self.fail_mode not in _FAIL_MODES:
            raise SettingsError(
                f"GATEPROOF_FAIL_MODE must be one of {', '.join(_FAIL_MODES)}, "
                f"got {self.fail_mode!r}"
            )
        if not 500 <= self.fail_status <= 599:
            raise SettingsError(f"GATEPROOF_FAIL_STATUS must be a 5xx, got {self.fail_status}")
        for name in ("cold_start_ms", "sleep_ms", "cpu_ms"):
            value = getattr(self, name)
            if value < 0 or not math.isfinite(value):
                raise SettingsError(
                    f"{_ENV_PREFIX}{name.upper()} must be a finite number >= 0, got {value}"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RuntimeSettings:
        """Read the ``GATEPROOF_*`` variables; unset or empty ones keep their default."""

        def get(name: str) -> str | None:
            value = environ.get(_ENV_PREFIX + name, "").strip()
            return value or None

        def number(name: str, default: float) -> float:
            text = get(name)
            if text is None:
                return default
            try:
                return float(text)
            except ValueError:
                raise SettingsError(f"{_ENV_PREFIX}{name} must be a number, got {text!r}") from None

        distribution = get("SLEEP_DISTRIBUTION")
        seed = get("SEED")
        return cls(
            function=get("FUNCTION") or "echo",
            cold_start_ms=number("COLD_START_MS", 0.0),
            sleep_ms=number("SLEEP_MS", 0.0),
            sleep_distribution=LatencyDistribution.parse(distribution) if distribution else None,
            fail_rate=number("FAIL_RATE", 1.0),
            fail_mode=(get("FAIL_MODE") or "error"),  # type: ignore[arg-type]
            fail_status=int(number("FAIL_STATUS", 500)),
            cpu_ms=number("CPU_MS", 10.0),
            seed=int(number("SEED", 0)) if seed is not None else None,
        )
