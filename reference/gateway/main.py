"""The gateway's app, created here and wired by :func:`..core.factory.create_container`.

Run it with ``gateproof serve``, or ``uvicorn --factory reference.gateway.main:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from reference.gateway.api.errors import install_error_handlers
from reference.gateway.api.middleware import GatewayMiddleware, HeaderLimits
from reference.gateway.api.routers import auth as auth_api
from reference.gateway.api.routers import lambda_api, routed, system
from reference.gateway.api.shortcut import RouteShortcut
from reference.gateway.core.access_log import configure_access_log
from reference.gateway.core.factory import ServiceContainer, create_container
from reference.gateway.core.settings import GatewaySettings
from reference.gateway.services.auth import AuthSettings

__all__ = ["GatewayApp", "create_app"]

_NO_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False}


class GatewayApp(FastAPI):
    """FastAPI with the invoke API served in front of the framework's own middleware.

    ``RouteShortcut`` (see shortcut.py for why) is the outermost layer of the
    stack the app builds: a request it serves passes ``hot_path_wrap`` (the
    gateway's middleware) and the route's endpoint only; every other request
    goes through FastAPI's stack as built from the app's middleware list.
    """

    def __init__(
        self, *, hot_path_wrap: Callable[[ASGIApp], ASGIApp] | None = None, **options: Any
    ) -> None:
        super().__init__(**options)
        self.hot_path_wrap = hot_path_wrap

    def build_middleware_stack(self) -> ASGIApp:
        framework = super().build_middleware_stack()
        return RouteShortcut(framework, router=lambda_api.router, wrap=self.hot_path_wrap)


def create_app(
    settings: GatewaySettings | None = None,
    *,
    container: ServiceContainer | None = None,
    auth: AuthSettings | None = None,
) -> FastAPI:
    """A gateway app; its lifespan starts and stops the container's services.

    ``auth`` overrides the ``GATEPROOF_AUTH_*`` settings.
    Without ``container`` the app builds its own (config errors surface here,
    not at the first request) and a fresh one for every later lifespan, so a
    test client may start and stop the app many times.
    """
    settings = settings or (container.settings if container else GatewaySettings())
    owns_container = container is None
    first = container or create_container(settings, auth=auth)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owns_container and app.state.container.entered:
            app.state.container = create_container(settings, auth=auth)
        async with app.state.container:
            yield

    options = {
        "max_body_bytes": settings.max_body_bytes,
        "access_log": settings.access_log,
        "header_limits": HeaderLimits(
            settings.max_header_line_bytes, settings.max_header_bytes, settings.max_headers
        ),
    }
    app = GatewayApp(
        title="gateproof reference gateway",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=None if settings.framework_telemetry else _NO_TELEMETRY,
        hot_path_wrap=lambda serve: GatewayMiddleware(serve, **options),
    )
    app.state.container = first
    install_error_handlers(app)
    app.add_middleware(GatewayMiddleware, **options)  # every route the shortcut does not serve
    if settings.access_log:
        configure_access_log()
    app.include_router(lambda_api.router)  # the hot path (served by RouteShortcut)
    app.include_router(system.router)
    app.include_router(auth_api.router)  # answers 404 unless API keys and JWTs are configured
    app.include_router(routed.router)  # the catch-all: always last
    return app
