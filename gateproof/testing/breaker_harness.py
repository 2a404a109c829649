"""Drive a circuit breaker under test, whatever its shape, and name what it got wrong.

:class:`BreakerHarness` turns both shapes of breaker (see
:mod:`gateproof.testing.breaker_adapter`) into one kind of step: a call that
succeeds, fails, or waits on a gate, and comes back ``"ran"`` or
``"rejected"``. The harness, not the breaker, counts what really ran, so a
breaker is judged by what it let through rather than by the state it reports.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gateproof.testing.breaker_adapter import BreakerAdapterOptions, BreakerSpec, breaker_options
from gateproof.testing.clocks import REAL_TIME_SCALE, FakeClock, patch_clocks_of
from gateproof.testing.pool_adapter import resolve

__all__ = ["BreakerHarness", "CallFailed", "Outcome"]

Outcome = Literal["ran", "rejected"]


class CallFailed(Exception):
    """The failure the harness's calls raise; the breaker must count it and pass it on."""


@dataclass
class BreakerHarness:
    """One breaker under test and the ledger of what it let run."""

    factory: Callable[..., Any]
    spec: BreakerSpec = field(default_factory=BreakerSpec)
    clock: FakeClock = field(default_factory=FakeClock)

    def __post_init__(self) -> None:
        self.options: BreakerAdapterOptions = breaker_options(self.factory)
        if self.options.clock == "real":
            self.spec = BreakerSpec(
                self.spec.failure_threshold,
                self.spec.recovery_timeout * REAL_TIME_SCALE,
                self.spec.half_open_max_calls,
            )
        self.ran = 0  # calls that reached the function
        self._nesting = 0
        self._restore: Callable[[], None] | None = None
        if self.options.clock == "patched":
            self._restore = patch_clocks_of([self.factory], self.clock)
        self.breaker = self.factory(self.spec, clock=self.clock)
        if self.options.clock == "patched":
            more = patch_clocks_of([self.breaker], self.clock)
            first = self._restore
            self._restore = lambda: (more(), first())
        self._async_call = self.options.style == "call" and inspect.iscoroutinefunction(
            self._method("call")
        )

    def _method(self, name: str) -> Any:
        return getattr(self.breaker, self.options.methods.get(name, name))

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of breaker time pass (the fake clock, or scaled real time)."""
        if self.options.clock == "real":
            await asyncio.sleep(seconds * REAL_TIME_SCALE)
        else:
            self.clock.advance(seconds)

    async def past_recovery(self) -> None:
        """Move just past ``recovery_timeout`` from now."""
        await self.advance(self._recovery() * 1.01 + 0.001)

    def _recovery(self) -> float:
        if self.options.clock == "real":
            return self.spec.recovery_timeout / REAL_TIME_SCALE
        return self.spec.recovery_timeout

    async def attempt(self, fails: bool = False, gate: asyncio.Event | None = None) -> Outcome:
        """One call through the breaker: ``"ran"`` (it reached the function) or ``"rejected"``."""
        if self.options.style == "record":
            if not await resolve(self._method("allow")()):
                return "rejected"
            await self._work(fails, gate)
            record = "record_failure" if fails else "record_success"
            await resolve(self._method(record)())
            return "ran"
        try:
            if self._async_call:

                async def function() -> None:
                    await self._work(fails, gate)

                await self._method("call")(function)
            else:

                def function() -> None:
                    self.ran += 1
                    if fails:
                        raise CallFailed("the call failed")

                await resolve(self._method("call")(function))
        except self.options.open_error:
            return "rejected"
        except CallFailed:
            pass
        return "ran"

    async def _work(self, fails: bool, gate: asyncio.Event | None) -> None:
        self.ran += 1
        if gate is not None:
            await gate.wait()
        if fails and self.options.style == "call":
            raise CallFailed("the call failed")

    async def probes_at_once(self, callers: int) -> int:
        """How many of ``callers`` calls arriving together reach the function at once."""
        before = self.ran
        if self.options.style == "call" and not self._async_call:
            self._nested(callers - 1)  # one thread: the others arrive while the first runs
            return self.ran - before
        gate = asyncio.Event()
        tasks = [asyncio.create_task(self.attempt(gate=gate)) for _ in range(callers)]
        for _ in range(10):
            await asyncio.sleep(0)
        entered = self.ran - before
        gate.set()
        await asyncio.gather(*tasks)
        return entered

    def _nested(self, more: int) -> None:
        call = self._method("call")

        def function() -> None:
            self.ran += 1
            if self._nesting < more:
                self._nesting += 1
                try:
                    call(function)
                except self.options.open_error:
                    pass

        self._nesting = 0
        call(function)

    async def failures(self, count: int) -> list[Outcome]:
        return [await self.attempt(fails=True) for _ in range(count)]

    async def successes(self, count: int) -> list[Outcome]:
        return [await self.attempt() for _ in range(count)]

    async def trip(self) -> None:
        """Open the breaker with ``failure_threshold`` consecutive failures."""
        await self.failures(self.spec.failure_threshold)

    def close(self) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None
