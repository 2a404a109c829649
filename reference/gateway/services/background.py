"""Event (asynchronous) invocations: accepted with 202, run in the background, bounded.

At most ``limit`` run at once; beyond that a new one is refused (503) rather
than queued without bound. Closing cancels and awaits every task, so none
outlives the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from reference.gateway.core.errors import NoCapacity
from reference.gateway.models import InvocationResult

__all__ = ["BackgroundInvocations"]

log = logging.getLogger(__name__)


class BackgroundInvocations:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._tasks: set[asyncio.Task[InvocationResult]] = set()

    def submit(self, call: Awaitable[InvocationResult], name: str) -> None:
        """Start ``call``; raises :class:`NoCapacity` when ``limit`` are already running."""
        if len(self._tasks) >= self.limit:
            close = getattr(call, "close", None)
            if close is not None:
                close()  # never awaited: close the coroutine quietly
            raise NoCapacity(
                f"{self.limit} event invocations are already running; retry later",
                retry_after=1,
            )
        task = asyncio.get_running_loop().create_task(call, name=f"event-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def _finished(self, task: asyncio.Task[InvocationResult]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("event invocation failed: %r", task.exception())
        elif not task.result().success:
            log.info(
                "event invocation of %s failed with %s", task.get_name(), task.result().status_code
            )

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
