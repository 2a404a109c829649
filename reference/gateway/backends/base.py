"""The one extension point between the gateway and wherever workers run.

An :class:`InvocationBackend` hands out workers for a function, takes them
back, and destroys the ones that misbehaved. The invoker depends on this
protocol only; it never asks which kind of backend it holds.

Every backend is an async context manager: entering it starts what it needs
(``min_capacity`` workers, helper processes, clients); leaving it drains every
pool and destroys every worker, also after an error::

    async with InProcessBackend(functions) as backend:
        worker = await backend.acquire_worker("echo")
        try:
            ...  # POST to worker.url through worker.transport
        except ConnectionError:
            await backend.evict_worker("echo", worker)   # never release a dead worker
            raise
        else:
            await backend.release_worker("echo", worker)

Implementations, one module each: ``inprocess`` (plain objects, the fastest,
for tests and benchmarks), ``process`` (runtime subprocesses on 127.0.0.1: the
embedded default) and ``docker`` (containers through the orchestrator).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, runtime_checkable

import httpx

__all__ = ["InvocationBackend", "WorkerInfo", "new_worker_id"]

_ids = itertools.count(1)


def new_worker_id(function: str) -> str:
    """A process-unique worker id, readable in logs."""
    return f"{function}-{next(_ids)}"


@dataclass(eq=False)
class WorkerInfo:
    """One worker of one function. Compared by identity: the pool tracks objects.

    ``transport`` is the httpx transport to reach it through (an in-process
    ASGI app, say); ``None`` means the default network transport to ``url``.
    """

    id: str
    function: str
    url: str
    transport: httpx.AsyncBaseTransport | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"WorkerInfo(id={self.id!r}, url={self.url!r})"


@runtime_checkable
class InvocationBackend(Protocol):
    """Where workers come from. See the module docstring for the contract."""

    async def acquire_worker(self, function: str) -> WorkerInfo:
        """A worker for ``function``; raises the pool's errors (timeout, unknown function)."""
        ...

    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        """Return a healthy worker after a call."""
        ...

    async def evict_worker(self, function: str, worker: WorkerInfo) -> None:
        """Drop a worker that failed or cannot be reached, and destroy it."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...
