"""An asyncio loop whose clock jumps over idle waits, and keeps real time while real I/O is pending.

Most of what a pool test waits for is timers: an acquire timeout, a
provisioning ``asyncio.sleep``, an idle deadline. On a real loop those are
seconds of wall time in which nothing happens. :class:`VirtualTimeLoop`
returns a virtual clock from ``time()``; where a real loop would block in
``select`` until the next timer is due, it moves that clock to the timer at
once, so ``asyncio.sleep(30)`` returns in microseconds and every timer still
fires in the same order, at the same loop time, as on a real loop.

When is that safe? Only while nothing outside the loop can make progress in
the meantime. So the clock jumps only when the selector watches no file
descriptor but the loop's own wake-up pipe, no executor job (``to_thread``,
``run_in_executor``) is running and no subprocess started by the loop is
alive. While a socket, a pipe or a subprocess is pending, the loop waits for
real, as a normal loop does, and its clock moves by the real time that
passed: a test that waits on real I/O keeps real time for that wait (a 5 s
``wait_for`` on a local server's reply is not cut short), and goes back to
virtual time once the I/O is done. ``virtual_seconds`` and ``real_waits``
count what happened, for the report.

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        runner.run(main())   # asyncio.sleep(3600) inside returns at once

Relies on ``BaseEventLoop`` internals that CPython 3.11 to 3.13 share
(``_selector``, ``_ssock``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["VirtualTimeLoop"]


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector loop on a virtual clock (``virtual_time=False``: the real clock, as asyncio's)."""

    def __init__(self, *, virtual_time: bool = True) -> None:
        super().__init__()
        self.virtual_time = virtual_time
        self.virtual_seconds = 0.0  # timer waits skipped
        self.real_waits = 0  # waits that kept real time because real I/O was pending
        self._now = time.monotonic()
        self._executor_jobs: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()
        self._subprocesses: weakref.WeakSet[Any] = weakref.WeakSet()
        if virtual_time:
            self._real_select = self._selector.select  # type: ignore[attr-defined]
            self._selector.select = self._select  # type: ignore[attr-defined]

    def time(self) -> float:
        return self._now if self.virtual_time else super().time()

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """As asyncio's, but timers due at the same virtual instant fire in the order made.

        On a real clock two ``sleep(1)`` calls made one after the other have
        deadlines a few microseconds apart, so the first made fires first; on a
        virtual clock their deadlines are equal, and the heap alone would not
        keep that order.
        """
        if not self.virtual_time:
            return super().call_at(when, callback, *args, context=context)
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        timer = _OrderedTimer(when, callback, args, self, context)
        if timer._source_traceback:  # type: ignore[attr-defined]
            del timer._source_traceback[-1]  # type: ignore[attr-defined]
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        future = super().run_in_executor(executor, func, *args)
        self._executor_jobs.add(future)
        return future

    async def _make_subprocess_transport(self, *args: Any, **kwargs: Any) -> Any:
        transport = await super()._make_subprocess_transport(*args, **kwargs)  # type: ignore[misc]
        self._subprocesses.add(transport)
        return transport

    def real_work_pending(self) -> bool:
        """Whether anything outside the loop could complete while it waits."""
        wakeup = self._ssock.fileno()  # type: ignore[attr-defined]
        if any(key.fd != wakeup for key in self._selector.get_map().values()):  # type: ignore[attr-defined]
            return True
        if any(not job.done() for job in self._executor_jobs):
            return True
        return any(t.get_returncode() is None for t in self._subprocesses)

    def _select(self, timeout: float | None = None) -> list[Any]:
        ready = self._real_select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None or self.real_work_pending():
            started = time.monotonic()
            ready = self._real_select(timeout)
            waited = time.monotonic() - started
            if timeout is not None and not ready:
                waited = max(waited, timeout)  # the timer is due: never wake before it
            self._now += waited
            self.real_waits += timeout is not None
            return ready
        self._now += timeout
        self.virtual_seconds += timeout
        return []


_made = itertools.count()


class _OrderedTimer(asyncio.TimerHandle):
    """A timer ordered by its deadline, then by when it was made."""

    __slots__ = ("_order",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._order = next(_made)

    def __lt__(self, other: object) -> bool:
        if isinstance(other, _OrderedTimer) and self._when == other._when:  # type: ignore[attr-defined]
            return self._order < other._order
        return super().__lt__(other)
