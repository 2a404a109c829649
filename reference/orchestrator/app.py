"""The orchestrator's FastAPI app: routes over a :class:`ContainerManager`.

On start it removes the leftovers of its own instance (zombies of a crash)
and starts a reaper that stops containers nobody heartbeats any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import docker
from fastapi import FastAPI, HTTPException, Request, Response

from reference.orchestrator.containers import (
    ContainerManager,
    ImageMissingError,
    NotOursError,
    ProvisionFailedError,
)
from reference.orchestrator.models import (
    EnsureRequest,
    EnsureResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    ProvisionRequest,
    ProvisionResponse,
    SyncResponse,
)
from reference.orchestrator.settings import OrchestratorSettings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def _reap_forever(manager: ContainerManager, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await manager.reap_idle()
        except Exception:  # a failed round must not end the reaper
            log.exception("orchestrator: reaping idle containers failed")


@contextlib.contextmanager
def _provision_errors() -> Iterator[None]:
    """A missing image answers 422, any other failed start 503; the body names the cause."""
    try:
        yield
    except ImageMissingError as error:
        raise HTTPException(422, {"code": "image_missing", "message": str(error)}) from None
    except ProvisionFailedError as error:
        raise HTTPException(503, {"code": "provision_failed", "message": str(error)}) from None


def create_app(
    settings: OrchestratorSettings | None = None, client: docker.DockerClient | None = None
) -> FastAPI:
    settings = settings or OrchestratorSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        docker_client = client or await asyncio.to_thread(docker.from_env)
        manager = ContainerManager(settings, docker_client)
        await manager.cleanup_leftovers()
        reaper = asyncio.create_task(_reap_forever(manager, settings.reap_interval))
        app.state.manager = manager
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await manager.aclose()

    app = FastAPI(title="gateproof orchestrator", lifespan=lifespan)

    def manager_of(request: Request) -> ContainerManager:
        return request.app.state.manager

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "instance": settings.instance}

    @app.post("/containers/provision", response_model=ProvisionResponse)
    async def provision(body: ProvisionRequest, request: Request) -> ProvisionResponse:
        with _provision_errors():
            workers = await manager_of(request).provision(
                body.function, body.count, body.image, body.env
            )
        return ProvisionResponse(workers=workers)

    @app.post("/containers/ensure", response_model=EnsureResponse)
    async def ensure(body: EnsureRequest, request: Request) -> EnsureResponse:
        with _provision_errors():
            worker = await manager_of(request).ensure(body.function_name, body.image, body.env)
        return EnsureResponse(host=worker.host, port=worker.port, id=worker.id)

    @app.post("/containers/heartbeat", response_model=HeartbeatResponse)
    async def heartbeat(body: HeartbeatRequest, request: Request) -> HeartbeatResponse:
        alive, missing = await manager_of(request).heartbeat(body.ids)
        return HeartbeatResponse(alive=alive, missing=missing)

    @app.get("/containers/sync", response_model=SyncResponse)
    async def sync(request: Request, function: str | None = None) -> SyncResponse:
        return SyncResponse(workers=await manager_of(request).sync(function))

    @app.delete("/containers/{container_id}", status_code=204)
    async def delete(container_id: str, request: Request) -> Response:
        try:
            await manager_of(request).remove(container_id)
        except NotOursError as error:
            raise HTTPException(404, {"code": "not_found", "message": str(error)}) from None
        return Response(status_code=204)

    return app
