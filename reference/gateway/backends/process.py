"""Workers as local runtime subprocesses on 127.0.0.1: the embedded default.

Each worker is ``python -m reference.runtime --port 0`` with the function's
``environment`` from ``functions.yml``; it binds a free port itself (so no
other process can take the port between choosing and binding it) and reports
it in one ready line on stdout. A worker that exits or stays silent past
``ready_timeout`` is killed and the caller gets :class:`WorkerStartError`
(the gateway answers 503)::

    async with ProcessBackend(functions) as backend:   # Mapping[str, FunctionEntity]
        worker = await backend.acquire_worker("echo")   # worker.url = http://127.0.0.1:PORT
        ...
        await backend.release_worker("echo", worker)

No worker outlives the backend. Leaving ``async with`` kills every child.
If the gateway itself dies (``kill -9`` included), each child gets SIGKILL
from the kernel (``PR_SET_PDEATHSIG``, Linux; strictly, when the thread that
spawned it ends, which is the event loop's thread) and also exits on its own
when its stdin pipe, whose other end only the gateway holds, reaches EOF.
Each child leads its own process group, so a kill reaches anything it forked,
and a Ctrl-C at the terminal reaches the gateway only, which then cleans up.

A dead worker is never handed out: its exit status is checked before every
hand-out and on release, and a dead one is evicted and replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from reference.gateway.backends.base import WorkerInfo, new_worker_id
from reference.gateway.models.function import FunctionEntity
from reference.gateway.services.pool import PoolManager, WorkerNotCheckedOutError

__all__ = ["ProcessBackend", "WorkerSpawner", "WorkerStartError"]

log = logging.getLogger(__name__)

_REPO_ROOT = str(Path(__file__).resolve().parents[3])  # holds the `reference` package
_KILL_WAIT_S = 5.0
_PR_SET_PDEATHSIG = 1


class WorkerStartError(RuntimeError):
    """A worker process exited or did not become ready in time (the gateway answers 503)."""


def _load_prctl() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None


_prctl = _load_prctl()  # looked up now: nothing may take a lock between fork and exec


def _prepare_child(parent_pid: int) -> None:
    """Runs in the child between fork and exec: lead a process group, die with the parent.

    ``setpgid`` is done here rather than with ``process_group=``, which uvloop refuses.
    """
    os.setpgid(0, 0)
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # type: ignore[operator]
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


class WorkerSpawner:
    """Starts runtime subprocesses, knows each one's process, and kills them all.

    The one place for a worker process's life: the process backend pairs it
    with the pool, and the legacy gateway with its own pool.
    """

    def __init__(
        self, *, ready_timeout: float = 10.0, host: str = "127.0.0.1", python: str = sys.executable
    ) -> None:
        if ready_timeout <= 0:
            raise ValueError(f"ready_timeout must be positive, got {ready_timeout}")
        self.ready_timeout = ready_timeout
        self.host = host
        self._python = python
        self._processes: dict[str, asyncio.subprocess.Process] = {}  # worker id -> process
        self._function_of: dict[str, str] = {}  # worker id -> function
        self._starting: set[asyncio.subprocess.Process] = set()

    async def spawn(self, entity: FunctionEntity) -> WorkerInfo:
        """A ready worker of ``entity``, or :class:`WorkerStartError` (its process killed)."""
        process = await self._start_process(entity)
        self._starting.add(process)
        try:
            port = await self._wait_ready(entity.name, process)
        except BaseException:
            await _kill_process(process)
            raise
        finally:
            self._starting.discard(process)
        worker = WorkerInfo(
            new_worker_id(entity.name),
            entity.name,
            f"http://{self.host}:{port}",
            meta={"pid": process.pid, "port": port},
        )
        self._processes[worker.id] = process
        self._function_of[worker.id] = entity.name
        return worker

    def is_alive(self, worker: WorkerInfo) -> bool:
        process = self._processes.get(worker.id)
        return process is not None and process.returncode is None

    def child_pids(self, function: str | None = None) -> list[int]:
        """Pids of children not yet reaped: all (starting ones too), or one function's."""
        if function is None:
            processes = [*self._processes.values(), *self._starting]
        else:
            processes = [p for w, p in self._processes.items() if self._function_of[w] == function]
        return [p.pid for p in processes if p.returncode is None]

    async def kill(self, *workers: WorkerInfo) -> None:
        """Kill the workers' processes; a worker already killed is skipped."""
        processes = [self._processes.pop(w.id, None) for w in workers]
        for worker in workers:
            self._function_of.pop(worker.id, None)
        await asyncio.gather(*(_kill_process(p) for p in processes if p is not None))

    async def kill_all(self) -> None:
        """Kill every child, ready or starting: nothing outlives the spawner's owner."""
        leftovers = [*self._processes.values(), *self._starting]
        self._processes.clear()
        self._function_of.clear()
        self._starting.clear()
        await asyncio.gather(*(_kill_process(process) for process in leftovers))

    async def _start_process(self, entity: FunctionEntity) -> asyncio.subprocess.Process:
        # A function's behaviour comes from functions.yml only, never from the gateway's env.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}
        env.update(entity.environment)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_REPO_ROOT, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        return await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            "reference.runtime",
            "--host",
            self.host,
            "--port",
            "0",
            "--exit-with-stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            preexec_fn=functools.partial(_prepare_child, os.getpid()),
        )

    async def _wait_ready(self, function: str, process: asyncio.subprocess.Process) -> int:
        assert process.stdout is not None
        try:
            async with asyncio.timeout(self.ready_timeout):
                line = await process.stdout.readline()
        except TimeoutError:
            raise WorkerStartError(
                f"the worker of {function!r} (pid {process.pid}) was not ready within "
                f"{self.ready_timeout:g}s and was killed; lower its GATEPROOF_COLD_START_MS "
                f"or raise the backend's ready_timeout"
            ) from None
        try:
            ready = json.loads(line)
            port = int(ready["port"])
        except (ValueError, KeyError, TypeError):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await process.wait()
            raise WorkerStartError(
                f"the worker of {function!r} (pid {process.pid}) exited with status "
                f"{process.returncode} before it was ready; its stderr says why (check the "
                f"function's GATEPROOF_* environment in functions.yml)"
            ) from None
        return port


class ProcessBackend:
    """An :class:`InvocationBackend` whose workers are runtime subprocesses."""

    def __init__(
        self,
        functions: Mapping[str, FunctionEntity],
        *,
        ready_timeout: float = 10.0,
        host: str = "127.0.0.1",
        python: str = sys.executable,
    ) -> None:
        self.spawner = WorkerSpawner(ready_timeout=ready_timeout, host=host, python=python)
        self._functions = dict(functions)
        self.pools: PoolManager[WorkerInfo] = PoolManager(self._provision)
        for name, entity in self._functions.items():
            self.pools.add(name, entity.scaling)

    async def _provision(self, function: str) -> WorkerInfo:
        return await self.spawner.spawn(self._functions[function])

    # -- InvocationBackend ---------------------------------------------------

    async def acquire_worker(self, function: str) -> WorkerInfo:
        """A live worker; dead ones met on the way are evicted and killed."""
        pool = self.pools.pool(function)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + pool.config.acquire_timeout
        timeout: float | None = None  # first try: the pool's shared deadline timer
        for _ in range(pool.config.max_capacity + 1):
            worker = await pool.acquire(timeout)
            if self.spawner.is_alive(worker):
                return worker
            log.warning("worker %s of %r had exited; evicting it", worker.id, function)
            await self.evict_worker(function, worker)
            timeout = max(deadline - loop.time(), 0.001)  # retries get what is left
        raise WorkerStartError(
            f"every worker of {function!r} handed out was dead; check the worker's stderr "
            f"and the function's environment in functions.yml"
        )

    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        """Return a worker; one that died during the call is evicted instead."""
        if self.spawner.is_alive(worker):
            self.pools.release(function, worker)
            return
        if not self.pools.evict(function, worker):
            raise WorkerNotCheckedOutError(
                f"worker {worker!r} is not checked out from the pool of {function!r}"
            )
        await self.spawner.kill(worker)

    async def evict_worker(self, function: str, worker: WorkerInfo) -> None:
        """Forget the worker and kill its process (also if the pool had forgotten it)."""
        self.pools.evict(function, worker)
        await self.spawner.kill(worker)

    async def prune_idle(self, now: float | None = None) -> list[WorkerInfo]:
        """Kill workers idle past their ``idle_timeout`` (``min_capacity`` stay); for a janitor."""
        pruned = [w for workers in self.pools.prune_idle(now).values() for w in workers]
        await self.spawner.kill(*pruned)
        return pruned

    async def ensure_min(self) -> int:
        """Provision every pool back up to its ``min_capacity``; for a janitor."""
        return await self.pools.ensure_min()

    async def __aenter__(self) -> Self:
        try:
            await self.pools.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- inspection ----------------------------------------------------------

    def is_alive(self, worker: WorkerInfo) -> bool:
        return self.spawner.is_alive(worker)

    def child_pids(self) -> list[int]:
        return self.spawner.child_pids()

    async def close(self) -> None:
        """Drain every pool and kill every child; safe to call twice."""
        await self.pools.drain()
        await self.spawner.kill_all()


async def _kill_process(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the worker's process group and reap it: workers keep no state worth a goodbye."""
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    try:
        async with asyncio.timeout(_KILL_WAIT_S):
            await process.wait()
    except TimeoutError:  # pragma: no cover - SIGKILL is not ignorable
        log.error("worker pid %s did not exit %gs after SIGKILL", process.pid, _KILL_WAIT_S)
    if process.stdin is not None:
        process.stdin.close()
