"""``create_container(settings)``: every service of the gateway, wired in one place.

The container is an async context manager: entering starts the backend (its
warm workers), leaving stops background calls, the backend, the worker
transports and the rate limiter, in that order, also after an error.

Backends are chosen by name (``settings.backend``) from :data:`BACKENDS`; a
new backend is one more entry there, never a branch in the invoker.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self

import httpx

from reference.gateway.backends.base import InvocationBackend
from reference.gateway.core.metrics import GatewayMetrics
from reference.gateway.core.settings import GatewaySettings
from reference.gateway.models import FunctionEntity
from reference.gateway.services.auth import AccessPolicy, policy_from_settings
from reference.gateway.services.auth.settings import AuthSettings, Login
from reference.gateway.services.background import BackgroundInvocations
from reference.gateway.services.breakers import BreakerBoard
from reference.gateway.services.config_file import ConfigFileError
from reference.gateway.services.event_builder import EventBuilder
from reference.gateway.services.invoker import LambdaInvoker
from reference.gateway.services.janitor import Janitor
from reference.gateway.services.pool import PoolStats
from reference.gateway.services.processor import GatewayRequestProcessor
from reference.gateway.services.ratelimit import NoRateLimit, RateLimiter
from reference.gateway.services.registry import FunctionRegistry
from reference.gateway.services.routing import RouteTable, load_routes
from reference.gateway.services.worker_transports import WorkerTransports

__all__ = ["BACKENDS", "ServiceContainer", "UnknownBackendError", "create_container"]

BackendFactory = Callable[[GatewaySettings, Mapping[str, FunctionEntity]], InvocationBackend]


class UnknownBackendError(ValueError):
    """``settings.backend`` names no known backend."""


def _process_backend(
    settings: GatewaySettings, functions: Mapping[str, FunctionEntity]
) -> InvocationBackend:
    from reference.gateway.backends.process import ProcessBackend

    return ProcessBackend(functions, ready_timeout=settings.worker_ready_timeout)


def _inprocess_backend(
    settings: GatewaySettings, functions: Mapping[str, FunctionEntity]
) -> InvocationBackend:
    """Workers are the runtime's ASGI app in this process, reached through httpx.ASGITransport."""
    from reference.gateway.backends.inprocess import InProcessBackend
    from reference.runtime.app import create_app as create_runtime_app
    from reference.runtime.settings import RuntimeSettings

    def transport(name: str) -> httpx.AsyncBaseTransport:
        settings = RuntimeSettings.from_env(functions[name].environment)
        return httpx.ASGITransport(create_runtime_app(settings=settings))

    scaling = {name: function.scaling for name, function in functions.items()}
    return InProcessBackend(scaling, transport_factory=transport)


def _docker_backend(
    settings: GatewaySettings, functions: Mapping[str, FunctionEntity]
) -> InvocationBackend:
    """Containers through the orchestrator; configured by ``GATEPROOF_DOCKER_*``."""
    from reference.gateway.backends.docker import DockerBackend

    return DockerBackend.from_env(functions)


BACKENDS: dict[str, BackendFactory] = {
    "process": _process_backend,
    "inprocess": _inprocess_backend,
    "docker": _docker_backend,
}


@dataclass
class ServiceContainer:
    """The gateway's services; the API layer reaches them through ``app.state.container``."""

    settings: GatewaySettings
    registry: FunctionRegistry
    routes: RouteTable
    backend: InvocationBackend
    breakers: BreakerBoard
    transports: WorkerTransports
    invoker: LambdaInvoker
    processor: GatewayRequestProcessor
    background: BackgroundInvocations
    rate_limiter: RateLimiter
    metrics: GatewayMetrics
    janitor: Janitor
    access: AccessPolicy = field(default_factory=AccessPolicy)
    login: Login | None = None
    started_at: float = field(default_factory=time.time)
    entered: bool = False

    def pool_stats(self) -> dict[str, PoolStats]:
        return pool_stats(self.backend)

    async def __aenter__(self) -> Self:
        if self.entered:
            raise RuntimeError("a ServiceContainer serves one lifespan; create_container() anew")
        self.entered = True
        try:
            await self.backend.__aenter__()
        except BaseException:  # the backend cleaned itself up; close what this container holds
            try:
                await self.background.aclose()
            finally:
                await self.transports.aclose()
                await self.rate_limiter.aclose()
            raise
        self.janitor.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.janitor.aclose()
            await self.background.aclose()
        finally:
            try:
                await self.backend.__aexit__(*exc_info)
            finally:
                await self.transports.aclose()
                await self.rate_limiter.aclose()


def pool_stats(backend: InvocationBackend) -> dict[str, PoolStats]:
    """Each pool's ledger, for backends that keep their pools in ``.pools``."""
    pools = getattr(backend, "pools", None)
    return dict(pools.stats()) if pools is not None else {}


def create_backend(
    settings: GatewaySettings, functions: Mapping[str, FunctionEntity]
) -> InvocationBackend:
    try:
        factory = BACKENDS[settings.backend]
    except KeyError:
        raise UnknownBackendError(
            f"unknown backend {settings.backend!r}; set GATEPROOF_BACKEND to one of "
            f"{', '.join(sorted(BACKENDS))}"
        ) from None
    return factory(settings, functions)


def _configured_rate_limiter(metrics: GatewayMetrics) -> RateLimiter | None:
    """Token buckets when ``GATEPROOF_RATELIMIT_ENABLED`` (Redis if a URL is set)."""
    from reference.gateway.services.token_bucket import rate_limiter_from_settings

    return rate_limiter_from_settings(registry=metrics.registry)


def create_container(
    settings: GatewaySettings | None = None,
    *,
    backend: InvocationBackend | None = None,
    rate_limiter: RateLimiter | None = None,
    clock: Callable[[], float] = time.monotonic,
    auth: AuthSettings | None = None,
) -> ServiceContainer:
    """Read the config files and wire every service; ``backend`` overrides the setting."""
    settings = settings or GatewaySettings()
    registry = FunctionRegistry.from_file(settings.functions_file)
    routes = load_routes(settings.routing_file, registry.names)
    access, login = policy_from_settings(auth)
    check_access_config(access, registry, routes, settings)
    backend = backend or create_backend(settings, registry.as_mapping())
    breakers = BreakerBoard(settings.breaker, clock=clock)
    for name in registry.names:
        breakers.get(name)  # every function shows in /metrics from the start
    transports = WorkerTransports(max_connections=settings.max_connections_per_client)
    metrics = GatewayMetrics(functools.partial(pool_stats, backend), breakers.snapshots)
    invoker = LambdaInvoker(
        backend,
        registry,
        breakers,
        transports,
        no_capacity_retry_after=settings.no_capacity_retry_after,
        on_retry=metrics.retried,
    )
    background = BackgroundInvocations(settings.max_background_invocations)
    limiter = rate_limiter or _configured_rate_limiter(metrics) or NoRateLimit()
    processor = GatewayRequestProcessor(
        invoker, EventBuilder(), routes, rate_limiter=limiter, background=background,
        access=access,
    )  # fmt: skip
    return ServiceContainer(
        settings, registry, routes, backend, breakers, transports, invoker, processor,
        background, limiter, metrics, Janitor(backend, settings.prune_interval), access, login,
    )  # fmt: skip


def check_access_config(
    access: AccessPolicy, registry: FunctionRegistry, routes: RouteTable, settings: GatewaySettings
) -> None:
    """A route or function that needs credentials the gateway cannot check stops startup."""
    if access.enabled:
        return
    needing = [(settings.functions_file, f"functions.{f.name}.auth", f.auth) for f in registry]
    needing += [
        (settings.routing_file, f"routes[{i}].auth", r.auth) for i, r in enumerate(routes.routes)
    ]
    for path, key, value in needing:
        if value in ("user", "worker"):
            raise ConfigFileError(
                path,
                key,
                f"{value!r} needs credentials, but no authentication is configured; set "
                f"GATEPROOF_AUTH_API_KEYS_FILE, GATEPROOF_AUTH_JWT_SECRET or "
                f"GATEPROOF_AUTH_WORKER_TOKENS (see docs/auth.md), or make it public",
            )
