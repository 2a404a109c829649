"""Replay a model run on the gateway's real ``ContainerPool``, request by request.

The model records each request's arrival, service time, outcome and wait, and
every cold start it drew (:class:`sim.model.Trace`). :func:`replay_on_pool`
feeds the same arrivals, service times and cold starts to the real pool
(provisioning and service are ``asyncio.sleep``) on a :class:`VirtualTimeLoop`,
with a janitor that prunes idle workers and then tops the pool up to
``min_capacity`` (waiting for that before sleeping again) as the gateway's
does, and returns what happened to each request, in the same order, for
comparison. As the gateway's invoker, a call still running at the function's
``timeout_seconds`` is cut off there and its worker evicted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from reference.gateway.services.pool import AcquireTimeoutError, ContainerPool
from scenarios.schema import Scenario
from sim.model import Trace
from sim.virtual_loop import VirtualTimeLoop

__all__ = ["Outcome", "PoolReplay", "first_difference", "replay_on_pool"]


@dataclass(frozen=True)
class Outcome:
    index: int
    arrival: float
    outcome: str  # served, worker_timeout (served, then cut off) or timeout
    wait: float | None


@dataclass
class PoolReplay:
    outcomes: list[Outcome]
    provisions: int
    pruned: int


class _Worker:
    """A worker object; the pool tracks workers by identity."""

    __slots__ = ("number",)

    def __init__(self, number: int) -> None:
        self.number = number


def replay_on_pool(scenario: Scenario, function: str, trace: Trace) -> PoolReplay:
    """Run ``trace``'s requests for ``function`` through a real ``ContainerPool``."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(_replay(scenario, function, trace))
    finally:
        loop.close()


async def _replay(scenario: Scenario, function: str, trace: Trace) -> PoolReplay:
    loop = asyncio.get_running_loop()
    config = scenario.functions[function].scaling
    time_limit = scenario.functions[function].timeout_seconds
    cold_starts = deque(trace.cold_starts.get(function, []))
    requests = [r for r in trace.requests if r.function == function]
    counter = {"provisions": 0, "pruned": 0}

    async def provision() -> _Worker:
        counter["provisions"] += 1
        # more provisions than the model made: the requests will disagree, which the
        # comparison reports; a zero cold start keeps the replay going until then
        await asyncio.sleep(cold_starts.popleft() if cold_starts else 0.0)
        return _Worker(counter["provisions"])

    pool: ContainerPool[_Worker] = ContainerPool(function, config, provision)
    pool.adopt(_Worker(-n) for n in range(1, config.min_capacity + 1))

    async def call(index: int) -> Outcome:
        record = requests[index]
        start = loop.time()
        try:
            worker = await pool.acquire()
        except AcquireTimeoutError:
            return Outcome(index, record.arrival, "timeout", None)
        wait = loop.time() - start
        try:
            async with asyncio.timeout(time_limit):
                await asyncio.sleep(record.service or 0.0)  # None: the model timed it out
        except TimeoutError:
            pool.evict(worker)
            return Outcome(index, record.arrival, "worker_timeout", wait)
        pool.release(worker)
        return Outcome(index, record.arrival, "served", wait)

    async def janitor() -> None:
        interval = scenario.janitor_interval
        while loop.time() + interval < scenario.duration:
            await asyncio.sleep(interval)
            counter["pruned"] += len(pool.prune_idle())
            await pool.ensure_min()  # as the gateway's janitor: top up, then sleep again

    sweeper = loop.create_task(janitor())
    calls = []
    for index, record in enumerate(requests):
        await asyncio.sleep(record.arrival - loop.time())
        calls.append(loop.create_task(call(index)))
    outcomes = await asyncio.gather(*calls)
    await sweeper
    return PoolReplay(outcomes, counter["provisions"], counter["pruned"])


def first_difference(
    trace: Trace, function: str, replay: PoolReplay, tolerance: float = 1e-3
) -> str | None:
    """A description of the first request the two disagree on, or None."""
    requests = [r for r in trace.requests if r.function == function]
    if len(requests) != len(replay.outcomes):
        return f"model has {len(requests)} requests, the pool answered {len(replay.outcomes)}"
    for record, real in zip(requests, replay.outcomes, strict=True):
        model_wait = record.wait if record.outcome in ("served", "worker_timeout") else None
        same_outcome = record.outcome == real.outcome
        same_wait = model_wait is None or (
            real.wait is not None and abs(model_wait - real.wait) <= tolerance
        )
        if not (same_outcome and same_wait):
            return (
                f"request {real.index} arriving at t={record.arrival:.6f}s: model "
                f"{record.outcome} (wait {_fmt(model_wait)}), real pool {real.outcome} "
                f"(wait {_fmt(real.wait)})"
            )
    return None


def _fmt(wait: float | None) -> str:
    return "-" if wait is None else f"{wait * 1000:.3f} ms"
