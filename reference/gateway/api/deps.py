"""How a route reaches the services: the container the factory built, on ``app.state``."""

from __future__ import annotations

from starlette.requests import Request

from reference.gateway.core.factory import ServiceContainer

__all__ = ["services"]


def services(request: Request) -> ServiceContainer:
    return request.app.state.container
