"""Helpers shared by the gateway's HTTP-level tests."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from reference.gateway.backends.base import InvocationBackend
from reference.gateway.core.access_log import ACCESS_LOGGER
from reference.gateway.core.factory import ServiceContainer, create_container
from reference.gateway.core.settings import GatewaySettings
from reference.gateway.main import create_app
from reference.gateway.services.auth import AuthSettings

FUNCTIONS = """
defaults:
  timeout_seconds: 5
  scaling: {max_capacity: 2, acquire_timeout: 2}
functions:
  echo: {environment: {GATEPROOF_FUNCTION: echo}}
  sleep: {environment: {GATEPROOF_FUNCTION: sleep}, timeout_seconds: 0.5}
  fail: {environment: {GATEPROOF_FUNCTION: fail}}
"""

ROUTING = """
routes:
  - {path: /echo, method: POST, function: echo}
  - {path: "/items/{id}", method: GET, function: echo}
  - {path: /fail, method: POST, function: fail}
"""


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient
    container: ServiceContainer

    def ledger_is_consistent(self) -> bool:
        """No worker left busy, provisioning or awaited; no pool above its limit."""
        return all(
            s.busy == 0 and s.provisioning == 0 and s.waiting == 0 and s.total <= s.max_capacity
            for s in self.container.pool_stats().values()
        )


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"code", "message"}, body
    return body["code"]


def invoke_url(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def dumps(value: object) -> bytes:
    return json.dumps(value).encode()


def gateway_factory(directory: Path) -> GatewayFactory:
    """Gateways whose config files live in ``directory``, driven through ASGI (no server).

    ``clock`` replaces the breakers' monotonic clock, so a caller can pin breaker timing.
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
        (directory / "functions.yml").write_text(functions)
        (directory / "routing.yml").write_text(routing)
        config = GatewaySettings(
            functions_file=directory / "functions.yml",
            routing_file=directory / "routing.yml",
            **{"backend": "inprocess", "access_log": False, **settings},
        )
        container = create_container(config, backend=with_backend, auth=auth, clock=clock)
        app = create_app(config, container=container)
        transport = httpx.ASGITransport(app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield Gateway(app, client, container)

    return factory


@contextmanager
def captured_access_log() -> Iterator[list[str]]:
    """The access lines, whether or not ``configure_access_log`` set its handler first.

    Our handler is attached to the logger itself and the level set here, so neither
    ``propagate`` nor which of the two handlers came first matters.
    """
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger(ACCESS_LOGGER)
    handler, old_level = Capture(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
