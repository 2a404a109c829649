"""Function containers through the Docker SDK: start, wait for, list, heartbeat, remove.

The SDK is blocking, so every call runs in a worker thread; the event loop
only waits. Every container this manager starts carries ``LABEL=<instance>``
and is the only kind it will ever list or remove: containers of other
instances and of other tools are invisible to it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import docker
import docker.errors
import httpx
from docker.models.containers import Container

from reference.orchestrator.models import Worker
from reference.orchestrator.settings import FUNCTION_LABEL, LABEL, OrchestratorSettings

__all__ = [
    "ContainerManager",
    "ImageMissingError",
    "NotOursError",
    "ProvisionFailedError",
]

log = logging.getLogger(__name__)

_STATUS_EVERY = 1.0  # seconds between container status checks while waiting for readiness


class ProvisionFailedError(RuntimeError):
    """A container could not be started or never became ready (the API answers 503)."""


class ImageMissingError(ProvisionFailedError):
    """The image is not on the engine; nothing is pulled (the API answers 422)."""


class NotOursError(LookupError):
    """No container with this id carries our label (the API answers 404)."""


class ContainerManager:
    """One orchestrator instance's view of its containers."""

    def __init__(
        self,
        settings: OrchestratorSettings,
        client: docker.DockerClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.client = client
        self._clock = clock
        self._last_seen: dict[str, float] = {}
        self._probe = httpx.AsyncClient(timeout=1.0, trust_env=False)

    @property
    def _label_filter(self) -> dict[str, Any]:
        return {"label": f"{LABEL}={self.settings.instance}"}

    # -- lifecycle ------------------------------------------------------------

    async def cleanup_leftovers(self) -> list[str]:
        """Remove every container of this instance, running or not: zombies of a past run."""
        containers = await asyncio.to_thread(
            self.client.containers.list, all=True, filters=self._label_filter
        )
        removed = [container.name for container in containers]
        await asyncio.gather(*(self._remove(container) for container in containers))
        if removed:
            log.warning("orchestrator: removed %d leftover containers: %s", len(removed), removed)
        return removed

    async def aclose(self) -> None:
        await self._probe.aclose()
        await asyncio.to_thread(self.client.close)

    # -- the API's operations ------------------------------------------------------

    async def provision(
        self, function: str, count: int, image: str | None, env: dict[str, str]
    ) -> list[Worker]:
        """Start ``count`` ready containers, or none: a batch failing part-way is rolled back."""
        image = image or self.settings.default_image
        if count > self.settings.max_batch:
            raise ProvisionFailedError(
                f"count {count} exceeds max_batch {self.settings.max_batch}; ask in smaller batches"
            )
        attempts = [
            asyncio.ensure_future(self._start_one(function, image, env)) for _ in range(count)
        ]
        try:
            results = await asyncio.gather(*attempts, return_exceptions=True)
        except BaseException:
            results = await asyncio.shield(asyncio.gather(*attempts, return_exceptions=True))
            await asyncio.shield(self._rollback(results))
            raise
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self._rollback(results)
            first = failures[0]
            if isinstance(first, ProvisionFailedError):
                raise type(first)(
                    f"{first} ({len(failures)} of {count} failed; the batch was rolled back)"
                ) from first
            raise ProvisionFailedError(f"provisioning {function!r} failed: {first!r}") from first
        return [r for r in results if isinstance(r, Worker)]

    async def ensure(self, function: str, image: str | None, env: dict[str, str]) -> Worker:
        """A running worker of ``function``: an existing one, else a new one."""
        running = await self.sync(function)
        if running:
            self._last_seen[running[0].id] = self._clock()
            return running[0]
        return (await self.provision(function, 1, image, env))[0]

    async def sync(self, function: str | None = None) -> list[Worker]:
        """Running containers of this instance (of one function, if given)."""
        filters = dict(self._label_filter)
        if function is not None:
            filters["label"] = [filters["label"], f"{FUNCTION_LABEL}={function}"]
        containers = await asyncio.to_thread(
            self.client.containers.list, all=False, filters=filters
        )
        workers = []
        for container in containers:
            worker = self._worker(container)
            if worker is not None:
                workers.append(worker)
                self._last_seen.setdefault(worker.id, self._clock())
        return workers

    async def heartbeat(self, ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Mark running workers as seen; report the ids that are gone."""
        running = {
            container.id
            for container in await asyncio.to_thread(
                self.client.containers.list, all=False, filters=self._label_filter, sparse=True
            )
        }  # sparse: ids only, no inspect per container on every heartbeat
        now = self._clock()
        alive, missing = [], []
        for worker_id in ids:
            if worker_id in running:
                self._last_seen[worker_id] = now
                alive.append(worker_id)
            else:
                missing.append(worker_id)
        return alive, missing

    async def remove(self, container_id: str) -> None:
        """Remove one of our containers; raises :class:`NotOursError` for any other."""
        try:
            container = await asyncio.to_thread(self.client.containers.get, container_id)
        except docker.errors.NotFound:
            raise NotOursError(f"no container {container_id!r}") from None
        if container.labels.get(LABEL) != self.settings.instance:
            raise NotOursError(
                f"container {container_id!r} was not started by orchestrator "
                f"{self.settings.instance!r}; it is left alone"
            )
        await self._remove(container)

    async def reap_idle(self) -> list[str]:
        """Remove running containers with no heartbeat for ``idle_timeout``."""
        now = self._clock()
        reaped = []
        for worker in await self.sync():
            if now - self._last_seen.get(worker.id, now) >= self.settings.idle_timeout:
                try:
                    await self.remove(worker.id)
                except NotOursError:
                    continue
                reaped.append(worker.name)
        if reaped:
            log.info("orchestrator: stopped %d idle containers: %s", len(reaped), reaped)
        return reaped

    # -- one container --------------------------------------------------------

    async def _start_one(self, function: str, image: str, env: dict[str, str]) -> Worker:
        name = f"gp-{function}-{secrets.token_hex(4)}"
        port_key = f"{self.settings.container_port}/tcp"
        try:
            # create + start, not run: run would try to pull a missing image
            container = await asyncio.to_thread(
                self.client.containers.create,
                image,
                detach=True,
                name=name,
                labels={
                    **self.settings.extra_labels,
                    LABEL: self.settings.instance,
                    FUNCTION_LABEL: function,
                },
                environment={"GATEPROOF_FUNCTION": function, **env},
                ports={port_key: (self.settings.publish_host, None)},
            )
            await asyncio.to_thread(container.start)
        except docker.errors.ImageNotFound:
            raise ImageMissingError(
                f"image {image!r} is not on the Docker engine; build it with `gateproof images`"
            ) from None
        except docker.errors.APIError as error:
            await self._remove_by_name(name)  # created but failed to start
            raise ProvisionFailedError(f"docker could not start {name}: {error}") from error
        try:
            await asyncio.to_thread(container.reload)
            worker = self._worker(container)
            if worker is None:
                raise ProvisionFailedError(f"{name} has no published port {port_key}")
            await self._wait_ready(container, worker)
        except BaseException:
            await asyncio.shield(self._remove(container))
            raise
        self._last_seen[worker.id] = self._clock()
        return worker

    async def _wait_ready(self, container: Container, worker: Worker) -> None:
        url = f"http://{worker.host}:{worker.port}{self.settings.ready_path}"
        deadline = self._clock() + self.settings.ready_timeout
        next_status = self._clock() + _STATUS_EVERY
        while True:
            try:
                response = await self._probe.get(url)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            now = self._clock()
            if now >= deadline:
                raise ProvisionFailedError(
                    f"{worker.name} was not ready within {self.settings.ready_timeout:g}s "
                    f"(GET {self.settings.ready_path}); it was removed"
                )
            if now >= next_status:
                next_status = now + _STATUS_EVERY
                await asyncio.to_thread(container.reload)
                if container.status in {"exited", "dead"}:
                    logs = await asyncio.to_thread(container.logs, tail=5)
                    raise ProvisionFailedError(
                        f"{worker.name} exited before it was ready: "
                        f"{logs.decode(errors='replace').strip()[-300:]}"
                    )
            await asyncio.sleep(0.05)

    def _worker(self, container: Container) -> Worker | None:
        ports = container.attrs.get("NetworkSettings", {}).get("Ports") or {}
        bindings = ports.get(f"{self.settings.container_port}/tcp") or []
        for binding in bindings:
            if binding.get("HostPort"):
                return Worker(
                    id=container.id,
                    name=container.name,
                    function=container.labels.get(FUNCTION_LABEL, ""),
                    image=container.attrs.get("Config", {}).get("Image", ""),
                    host=self.settings.publish_host,
                    port=int(binding["HostPort"]),
                )
        return None

    async def _remove(self, container: Container) -> None:
        self._last_seen.pop(container.id, None)
        try:
            await asyncio.to_thread(container.remove, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            if "already in progress" not in str(error):
                raise

    async def _remove_by_name(self, name: str) -> None:
        try:
            container = await asyncio.to_thread(self.client.containers.get, name)
        except docker.errors.NotFound:
            return
        await self._remove(container)

    async def _rollback(self, results: list[Any]) -> None:
        workers = [r for r in results if isinstance(r, Worker)]
        for worker in workers:
            try:
                await self.remove(worker.id)
            except NotOursError:
                pass
        if workers:
            log.warning("orchestrator: rolled back %d containers of a failed batch", len(workers))
