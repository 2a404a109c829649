"""A background loop that runs one housekeeping step at a fixed interval.

The Docker backend gives it a step that heartbeats its workers, prunes idle
ones and retries deletions the orchestrator missed while it was down. A step
that fails is logged and the loop goes on: the janitor must outlive outages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Self

__all__ = ["Janitor"]

log = logging.getLogger(__name__)


class Janitor:
    """Runs ``step`` every ``interval`` seconds between ``start`` and ``aclose``."""

    def __init__(self, step: Callable[[], Awaitable[None]], interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"janitor interval must be > 0, got {interval}")
        self._step = step
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="janitor")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._step()
            except Exception:
                log.exception("janitor: a housekeeping round failed; trying again next round")
            self.rounds += 1

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
