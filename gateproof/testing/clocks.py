"""Fake time for code under test: injected, or patched into a module that reads the clock itself.

Pools and breakers written in the wild call ``time.time()`` or
``time.monotonic()`` directly instead of taking a clock. :func:`patch_clock`
swaps, in that one module's globals only, the ``time`` module (for a
proxy whose clock functions read the fake clock) and any clock function
imported by name (``from time import monotonic``). asyncio keeps the real
clock, so the event loop's timeouts still work.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["REAL_TIME_SCALE", "FakeClock", "patch_clock", "patch_clocks_of"]

REAL_TIME_SCALE = 0.01  # "real" clock mode: timeouts of 10 s become 0.1 s of real waiting
_CLOCK_FUNCTIONS = ("time", "monotonic", "perf_counter")


@dataclass
class FakeClock:
    """A clock the test moves by hand, so timeouts of minutes need no real waiting."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class _TimeModule(types.ModuleType):
    """``time`` as a patched module sees it: the clock functions read the fake clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__("time")
        for name in _CLOCK_FUNCTIONS:
            setattr(self, name, clock)
        self.time_ns = lambda: int(clock() * 1e9)
        self.monotonic_ns = self.time_ns

    def __getattr__(self, name: str) -> Any:  # sleep, strftime, ...: the real ones
        return getattr(time, name)


def patch_clock(module: types.ModuleType, clock: Callable[[], float]) -> Callable[[], None]:
    """Make ``module`` read ``clock``; returns the function that puts the real clock back."""
    real = {getattr(time, name): name for name in _CLOCK_FUNCTIONS}
    replaced: dict[str, Any] = {}
    for name, value in list(vars(module).items()):
        if value is time:
            replaced[name] = value
            setattr(module, name, _TimeModule(clock))
        elif callable(value) and _is_real_clock(value, real):
            replaced[name] = value
            setattr(module, name, clock)

    def restore() -> None:
        for name, value in replaced.items():
            setattr(module, name, value)

    return restore


def _is_real_clock(value: Any, real: dict[Any, str]) -> bool:
    try:
        return value in real
    except TypeError:  # unhashable
        return False


def patch_clocks_of(objects: list[Any], clock: Callable[[], float]) -> Callable[[], None]:
    """Patch the modules that define ``objects`` (a factory, the object it built).

    gateproof's own modules are left alone. Returns what puts every real clock back.
    """
    import sys

    restores = []
    seen: set[str] = set()
    for thing in objects:
        name = getattr(thing, "__module__", None) or type(thing).__module__
        module = sys.modules.get(name)
        if module is None or name in seen or name.startswith("gateproof."):
            continue
        seen.add(name)
        restores.append(patch_clock(module, clock))

    def restore() -> None:
        while restores:
            restores.pop()()

    return restore
