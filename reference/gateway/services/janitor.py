"""The janitor: every ``interval`` seconds, prunes idle workers and tops pools back up.

Pools only record idleness; destroying a worker is the backend's job, so the
janitor calls ``backend.prune_idle()`` on backends that offer it (process,
docker). Evictions and pruning can leave a pool below its ``min_capacity``, so
it then calls ``backend.ensure_min()`` where offered (in-process, process,
docker), as the simulator's janitor does. A failure of either step is logged
and retried next round. It runs as one task, started and cancelled with the
gateway; backends that offer neither get no task.
"""

from __future__ import annotations

import asyncio
import logging

from reference.gateway.backends.base import InvocationBackend

__all__ = ["Janitor"]

log = logging.getLogger(__name__)


class Janitor:
    def __init__(self, backend: InvocationBackend, interval: float) -> None:
        self.backend = backend
        self.interval = interval
        self.sweeps = 0  # rounds that pruned (backends with ``prune_idle``)
        self.top_ups = 0  # rounds that topped pools up (backends with ``ensure_min``)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        has_work = any(getattr(self.backend, m, None) for m in ("prune_idle", "ensure_min"))
        if has_work and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="janitor")

    async def sweep(self) -> int:
        """Prune once; returns how many workers were destroyed."""
        prune_idle = getattr(self.backend, "prune_idle", None)
        if prune_idle is None:
            return 0
        count = len(await prune_idle())  # the destroyed workers
        self.sweeps += 1
        if count:
            log.info("janitor pruned %d idle workers", count)
        return count

    async def top_up(self) -> int:
        """Provision every pool back up to ``min_capacity``; returns how many were started."""
        ensure_min = getattr(self.backend, "ensure_min", None)
        if ensure_min is None:
            return 0
        started = await ensure_min()
        self.top_ups += 1
        if started:
            log.info("janitor started %d workers to restore min_capacity", started)
        return started

    async def _run(self) -> None:
        while True:  # ends when aclose() cancels it
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("pruning idle workers failed; retrying in %gs", self.interval)
            try:
                await self.top_up()
            except Exception:
                log.exception(
                    "restoring min_capacity failed; check the backend, retrying in %gs",
                    self.interval,
                )

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
