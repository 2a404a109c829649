"""An asyncio event loop on virtual time, for running real asyncio code at simulation speed.

``time()`` returns a virtual clock; where a normal loop would block in
``select`` until the next timer is due, this one moves the clock to that timer
at once. Code that only sleeps and waits on futures (the gateway's pool with
``asyncio.sleep`` for cold starts and service) then runs its exact schedule
in milliseconds of wall time, with the same ordering rules asyncio uses.
Real I/O still works (the selector is polled without blocking), but it takes
no virtual time.

    loop = VirtualTimeLoop()
    try:
        loop.run_until_complete(main())   # asyncio.sleep(3600) returns at once
    finally:
        loop.close()
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

__all__ = ["VirtualTimeLoop"]


class _JumpingSelector(selectors.DefaultSelector):
    """Polls for real events; when there are none, advances the loop's clock by the timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0:
            if not ready and timeout is None and self.loop is not None:
                raise RuntimeError(
                    "virtual-time loop: nothing is scheduled and no I/O can arrive, so the "
                    "program would wait forever; check for a future nobody completes"
                )
            return ready
        assert self.loop is not None
        self.loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock jumps to the next timer instead of waiting."""

    def __init__(self, start: float = 0.0) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self
        self._virtual_now = start

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back)."""
        if seconds > 0:
            self._virtual_now += seconds
