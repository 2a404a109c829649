"""Workers are containers, started and removed by the orchestrator over HTTP.

The gateway never talks to Docker: a pool's provision callback asks the
orchestrator for one container (``POST /containers/provision``) and eviction
gives it back (``DELETE``). On entry the backend adopts the workers the
orchestrator reports as running (``GET /containers/sync``), so a restarted
gateway reuses warm containers instead of starting new ones. A housekeeping
task then heartbeats every worker (``POST /containers/heartbeat``), forgets
idle ones the orchestrator reports gone, prunes workers idle past
``idle_timeout`` and retries deletions that failed while the orchestrator
was down. ``prune_idle`` is public too, for the gateway's janitor.

While the orchestrator is down, acquiring a worker that needs a cold start
raises :class:`OrchestratorUnavailableError` (the gateway answers 503
``backend_unavailable``); warm workers keep serving. Nothing needs a restart
when it returns: the next provision simply succeeds.

    async with DockerBackend(functions, orchestrator_url="http://127.0.0.1:8081") as backend:
        worker = await backend.acquire_worker("echo")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.models import FunctionEntity
from reference.gateway.services.orchestrator_client import (
    HeartbeatClient,
    OrchestratorUnavailableError,
    ProvisionClient,
    ProvisionFailedError,
    RemoteWorker,
)
from reference.gateway.services.pool import PoolManager
from reference.orchestrator.settings import DEFAULT_TOKEN_FILE  # the contract's one constant

__all__ = [
    "DockerBackend",
    "DockerBackendSettings",
    "OrchestratorUnavailableError",
    "ProvisionFailedError",
]

log = logging.getLogger(__name__)


class DockerBackendSettings(BaseSettings):
    """``GATEPROOF_DOCKER_ORCHESTRATOR_URL`` and friends."""

    model_config = SettingsConfigDict(env_prefix="GATEPROOF_DOCKER_", extra="ignore", frozen=True)

    orchestrator_url: str = "http://127.0.0.1:8081"
    heartbeat_interval: float = Field(default=5.0, gt=0)
    provision_timeout: float = Field(default=30.0, gt=0)
    adopt: bool = True
    orchestrator_token: SecretStr | None = None
    orchestrator_token_file: Path = DEFAULT_TOKEN_FILE

    def token(self) -> str | None:
        """The configured token, else the one the orchestrator wrote to its token file."""
        if self.orchestrator_token is not None:
            return self.orchestrator_token.get_secret_value()
        try:
            return self.orchestrator_token_file.read_text().strip() or None
        except OSError:
            return None


class DockerBackend:
    """An :class:`InvocationBackend` over the orchestrator."""

    def __init__(
        self,
        functions: Mapping[str, FunctionEntity],
        *,
        orchestrator_url: str = "http://127.0.0.1:8081",
        heartbeat_interval: float = 5.0,
        provision_timeout: float = 30.0,
        adopt: bool = True,
        token: str | None = None,
    ) -> None:
        """``token`` defaults to the settings' (``GATEPROOF_DOCKER_ORCHESTRATOR_TOKEN[_FILE]``)."""
        self.functions = dict(functions)
        token = token or DockerBackendSettings().token()
        self.provisioner = ProvisionClient(orchestrator_url, timeout=provision_timeout, token=token)
        self.heartbeats = HeartbeatClient(orchestrator_url, token=token)
        self.pools: PoolManager[WorkerInfo] = PoolManager(self._provision)
        for name, function in self.functions.items():
            self.pools.add(name, function.scaling)
        self.heartbeat_interval = heartbeat_interval
        self._housekeeper: asyncio.Task[None] | None = None
        self.housekeeping_rounds = 0
        self._adopt = adopt
        self._workers: dict[str, WorkerInfo] = {}  # container id -> worker we hold
        self._busy: set[str] = set()
        self._doomed: set[str] = set()  # container ids to delete once the orchestrator answers
        self.orchestrator_down = False

    @classmethod
    def from_env(cls, functions: Mapping[str, FunctionEntity]) -> DockerBackend:
        settings = DockerBackendSettings()
        return cls(
            functions,
            orchestrator_url=settings.orchestrator_url,
            heartbeat_interval=settings.heartbeat_interval,
            provision_timeout=settings.provision_timeout,
            adopt=settings.adopt,
            token=settings.token(),
        )

    # -- the InvocationBackend contract ------------------------------------------

    async def acquire_worker(self, function: str) -> WorkerInfo:
        worker = await self.pools.acquire(function)
        self._busy.add(_container_id(worker))
        return worker

    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        self.pools.release(function, worker)
        self._busy.discard(_container_id(worker))

    async def evict_worker(self, function: str, worker: WorkerInfo) -> None:
        if self.pools.evict(function, worker):
            await self._destroy(worker)

    async def __aenter__(self) -> Self:
        try:
            if self._adopt:
                await self.adopt_running()
            await self.pools.start()
        except BaseException as error:  # no __aexit__ after a failed enter: clean up here
            await self.__aexit__(type(error), error, error.__traceback__)
            raise
        self._housekeeper = asyncio.get_running_loop().create_task(
            self._housekeep_forever(), name="docker-backend-housekeeping"
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop_housekeeping()
        try:
            drained = await self.pools.drain()
            workers = [w for ws in drained.values() for w in ws]
            await asyncio.gather(*(self._destroy(w) for w in workers))
        finally:
            await self.detach()

    async def detach(self) -> None:
        """Stop housekeeping and close the clients, leaving containers running.

        What a gateway that dies does; the next one adopts the containers.
        """
        await self._stop_housekeeping()
        await self.provisioner.aclose()
        await self.heartbeats.aclose()

    # -- workers ------------------------------------------------------------------

    def _track(self, remote: RemoteWorker) -> WorkerInfo:
        worker = WorkerInfo(
            id=remote.name,
            function=remote.function,
            url=remote.url,
            meta={"container_id": remote.id, "name": remote.name},
        )
        self._workers[remote.id] = worker
        return worker

    async def _provision(self, function: str) -> WorkerInfo:
        spec = self.functions[function]
        try:
            remote = await self.provisioner.provision(
                function, 1, image=spec.image, env=dict(spec.environment)
            )
        except OrchestratorUnavailableError:
            self._note_down()
            raise
        self._note_up()
        return self._track(remote[0])

    async def adopt_running(self) -> int:
        """Take in the containers the orchestrator runs; delete those no pool can hold."""
        try:
            running = await self.provisioner.sync()
        except OrchestratorUnavailableError as error:
            log.warning("docker backend: nothing adopted, %s", error)
            self._note_down()
            return 0
        by_function: dict[str, list[WorkerInfo]] = {}
        for remote in running:
            if remote.id in self._workers:
                continue
            by_function.setdefault(remote.function, []).append(self._track(remote))
        adopted = 0
        for function, workers in by_function.items():
            kept = self.pools.pool(function).adopt(workers) if function in self.functions else []
            adopted += len(kept)
            extra = [w for w in workers if all(w is not k for k in kept)]
            await asyncio.gather(*(self._destroy(w) for w in extra))
        if adopted:
            log.info("docker backend: adopted %d running workers", adopted)
        return adopted

    async def _destroy(self, worker: WorkerInfo) -> None:
        container_id = _container_id(worker)
        self._workers.pop(container_id, None)
        self._busy.discard(container_id)
        try:
            await self.provisioner.delete(container_id)
        except OrchestratorUnavailableError:
            self._doomed.add(container_id)  # retried by the janitor
            self._note_down()

    # -- housekeeping -------------------------------------------------------------

    async def prune_idle(self, now: float | None = None) -> list[WorkerInfo]:
        """Destroy workers idle past their ``idle_timeout`` (``min_capacity`` stay)."""
        pruned = [w for workers in self.pools.prune_idle(now).values() for w in workers]
        await asyncio.gather(*(self._destroy(worker) for worker in pruned))
        return pruned

    async def ensure_min(self) -> int:
        """Provision every pool back up to its ``min_capacity``; for a janitor."""
        return await self.pools.ensure_min()

    async def _housekeep_forever(self) -> None:
        while True:  # ends when cancelled by __aexit__ or detach
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self.housekeeping()
            except Exception:  # a failed round must not end housekeeping
                log.exception("docker backend: a housekeeping round failed")
            self.housekeeping_rounds += 1

    async def _stop_housekeeping(self) -> None:
        task, self._housekeeper = self._housekeeper, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def housekeeping(self) -> None:
        """One round: prune idle, heartbeat, forget the gone, retry deletions."""
        await self.prune_idle()
        try:
            for container_id in list(self._doomed):
                await self.provisioner.delete(container_id)
                self._doomed.discard(container_id)
            if not self._workers:
                self._note_up()
                return
            _alive, missing = await self.heartbeats.heartbeat(list(self._workers))
        except OrchestratorUnavailableError:
            self._note_down()
            return
        self._note_up()
        for container_id in missing:
            worker = self._workers.get(container_id)
            if worker is None or container_id in self._busy:
                continue  # a busy worker that is gone fails its call and is evicted there
            if self.pools.evict(worker.function, worker):
                # not running is not removed: a killed container stays until deleted
                await self._destroy(worker)
                log.info("docker backend: removed %s, its container stopped running", worker.id)

    def _note_down(self) -> None:
        if not self.orchestrator_down:
            self.orchestrator_down = True
            log.error("docker backend: the orchestrator is unreachable; cold starts fail with 503")

    def _note_up(self) -> None:
        if self.orchestrator_down:
            self.orchestrator_down = False
            log.warning("docker backend: the orchestrator answers again")

    def worker_ids(self) -> list[str]:
        """Container ids of every worker this backend holds."""
        return list(self._workers)


def _container_id(worker: WorkerInfo) -> str:
    return str(worker.meta["container_id"])
