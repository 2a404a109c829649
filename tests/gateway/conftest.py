"""The ``make_gateway`` fixture: config files in tmp_path, the app driven through ASGI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import FUNCTIONS, ROUTING, Gateway, GatewayFactory

from reference.gateway.backends.base import InvocationBackend
from reference.gateway.core.factory import create_container
from reference.gateway.core.settings import GatewaySettings
from reference.gateway.main import create_app
from reference.gateway.services.auth import AuthSettings


@pytest.fixture
def make_gateway(tmp_path: Path) -> GatewayFactory:
    """``async with make_gateway(functions=..., with_backend=..., auth=..., **settings) as gw:``.

    ``clock`` replaces the breakers' monotonic clock, so a test can pin breaker timing.
    """

    @asynccontextmanager
    async def factory(
        *,
        functions: str = FUNCTIONS,
        routing: str = ROUTING,
        with_backend: InvocationBackend | None = None,
        auth: AuthSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        **settings: Any,
    ) -> AsyncIterator[Gateway]:
        (tmp_path / "functions.yml").write_text(functions)
        (tmp_path / "routing.yml").write_text(routing)
        config = GatewaySettings(
            functions_file=tmp_path / "functions.yml",
            routing_file=tmp_path / "routing.yml",
            **{"backend": "inprocess", "access_log": False, **settings},
        )
        container = create_container(config, backend=with_backend, auth=auth, clock=clock)
        app = create_app(config, container=container)
        transport = httpx.ASGITransport(app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield Gateway(app, client, container)

    return factory
