"""The orchestrator's FastAPI app: routes over a :class:`ContainerManager`.

On start it removes the leftovers of its own instance (zombies of a crash)
and starts a reaper that stops containers nobody heartbeats any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import docker
from fastapi import Depends, FastAPI, HTTPException, Request, Response

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


def write_token_file(path: Path, token: str) -> None:
    """Write ``token`` readable by this user only (the directory too)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token)
    partial.replace(path)


def resolve_token(settings: OrchestratorSettings) -> str:
    """The configured token, or a new one written to ``token_file`` for the gateway."""
    if settings.token is not None:
        return settings.token.get_secret_value()
    token = secrets.token_urlsafe(32)
    write_token_file(settings.token_file, token)
    log.warning(
        "orchestrator: no GATEPROOF_ORCHESTRATOR_TOKEN set; generated one and wrote it to %s, "
        "where the gateway's Docker backend reads it (GATEPROOF_DOCKER_ORCHESTRATOR_TOKEN_FILE)",
        settings.token_file,
    )
    return token


def create_app(
    settings: OrchestratorSettings | None = None,
    client: docker.DockerClient | None = None,
    *,
    token: str | None = None,
) -> FastAPI:
    """The orchestrator; every route but ``/health`` needs ``Authorization: Bearer <token>``."""
    settings = settings or OrchestratorSettings()
    expected = (token or resolve_token(settings)).encode()

    def require_token(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(
                401,
                {"code": "unauthorized", "message": "send the orchestrator's bearer token"},
                headers={"WWW-Authenticate": 'Bearer realm="gateproof-orchestrator"'},
            )

    guarded = [Depends(require_token)]

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

    @app.post("/containers/provision", response_model=ProvisionResponse, dependencies=guarded)
    async def provision(body: ProvisionRequest, request: Request) -> ProvisionResponse:
        with _provision_errors():
            workers = await manager_of(request).provision(
                body.function, body.count, body.image, body.env
            )
        return ProvisionResponse(workers=workers)

    @app.post("/containers/ensure", response_model=EnsureResponse, dependencies=guarded)
    async def ensure(body: EnsureRequest, request: Request) -> EnsureResponse:
        with _provision_errors():
            worker = await manager_of(request).ensure(body.function_name, body.image, body.env)
        return EnsureResponse(host=worker.host, port=worker.port, id=worker.id)

    @app.post("/containers/heartbeat", response_model=HeartbeatResponse, dependencies=guarded)
    async def heartbeat(body: HeartbeatRequest, request: Request) -> HeartbeatResponse:
        alive, missing = await manager_of(request).heartbeat(body.ids)
        return HeartbeatResponse(alive=alive, missing=missing)

    @app.get("/containers/sync", response_model=SyncResponse, dependencies=guarded)
    async def sync(request: Request, function: str | None = None) -> SyncResponse:
        return SyncResponse(workers=await manager_of(request).sync(function))

    @app.delete("/containers/{container_id}", status_code=204, dependencies=guarded)
    async def delete(container_id: str, request: Request) -> Response:
        try:
            await manager_of(request).remove(container_id)
        except NotOursError as error:
            raise HTTPException(404, {"code": "not_found", "message": str(error)}) from None
        return Response(status_code=204)

    return app
