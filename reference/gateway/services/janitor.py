"""The janitor: every ``interval`` seconds, asks the backend to prune idle workers.

Pools only record idleness; destroying a worker is the backend's job, so the
janitor calls ``backend.prune_idle()`` on backends that offer it (process,
docker) and does nothing for the others. It runs as one task, started and
cancelled with the gateway.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

from reference.gateway.backends.base import InvocationBackend

__all__ = ["Janitor"]

log = logging.getLogger(__name__)


class Janitor:
    def __init__(self, backend: InvocationBackend, interval: float) -> None:
        self.backend = backend
        self.interval = interval
        self.sweeps = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if getattr(self.backend, "prune_idle", None) is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="janitor")

    async def sweep(self) -> int:
        """Prune once; returns how many workers were destroyed."""
        outcome = self.backend.prune_idle()  # type: ignore[attr-defined]
        pruned = await outcome if inspect.isawaitable(outcome) else outcome
        self.sweeps += 1
        count = sum(len(v) for v in pruned.values()) if isinstance(pruned, dict) else len(pruned)
        if count:
            log.info("janitor pruned %d idle workers", count)
        return count

    async def _run(self) -> None:
        while True:  # ends when aclose() cancels it
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("pruning idle workers failed; retrying in %gs", self.interval)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
