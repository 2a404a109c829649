"""The gateway's own endpoints: health, metrics, status and the list of services."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request, Response

from reference.gateway.api.deps import services
from reference.gateway.core.metrics import CONTENT_TYPE

router = APIRouter(tags=["system"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the gateway answers."""
    return {"status": "ok"}


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests, latency, pool ledgers, breaker states."""
    return Response(services(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/gateway/status")
async def status(request: Request) -> dict[str, Any]:
    """Each pool's ledger and each breaker's snapshot."""
    container = services(request)
    return {
        "status": "running",
        "backend": container.settings.backend,
        "pools": {
            name: {**dataclasses.asdict(stats), "total": stats.total}
            for name, stats in container.pool_stats().items()
        },
        "breakers": {
            name: {**dataclasses.asdict(snap), "state": snap.state.value}
            for name, snap in container.breakers.snapshots().items()
        },
        "background_invocations": container.background.running,
    }


@router.get("/api/gateway/services")
async def list_services(request: Request) -> list[dict[str, Any]]:
    """The functions this gateway serves, with their limits and routes."""
    container = services(request)
    routes: dict[str, list[dict[str, str]]] = {}
    for route in container.routes.routes:
        routes.setdefault(route.function, []).append({"path": route.path, "method": route.method})
    return [
        {
            "name": function.name,
            "image": function.image,
            "timeout_seconds": function.timeout_seconds,
            "scaling": function.scaling.model_dump(),
            "invoke_path": f"/2015-03-31/functions/{function.name}/invocations",
            "routes": routes.get(function.name, []),
        }
        for function in container.registry
    ]
