"""``RouteShortcut``: the invoke API's requests go straight to the route's endpoint.

Why: the invoke API is the gateway's hot path. Through FastAPI a call also
passes the framework's own middleware (server errors, telemetry, body limit),
the exception middleware, the exit-stack middleware, the router (which tries
route after route) and the request handler with its dependency solver;
measured with ``gateproof bench gateway`` those layers cost about as much CPU
as everything the gateway itself does for the call, and the framework's
middleware alone 20 us of 270 (``--breakdown``).

The shortcut is the outermost layer of the app's middleware stack
(:class:`reference.gateway.main.GatewayApp`). It matches a request with the
route's own ``matches()``; a match is served by the route's own endpoint
wrapped in its own ``GatewayMiddleware`` (``wrap``), so the request id, the
header checks, the access log and the metrics apply as on every other route;
a request for a route's path with another method is answered 405 with
``Allow`` the same way (the invoke path is the gateway's own: no routed
function answers it); anything else goes on to the framework's stack, where
``GatewayMiddleware`` is a user middleware. Each route stays defined once (in its router, with its
OpenAPI documentation). What the shortcut leaves out is what these endpoints
do not use: FastAPI's parameter parsing and validation (they read the
``Request`` themselves) and ``yield`` dependencies (they have none). A
:class:`~reference.gateway.core.errors.GatewayError` becomes its JSON error,
as the app's exception handler would make it; anything else propagates to
``GatewayMiddleware``, which answers 500 (as the framework's server-error
middleware never sees it, it is not missed there).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from reference.gateway.api.responses import error_response
from reference.gateway.core.errors import GatewayError, MethodNotAllowed

__all__ = ["RouteShortcut"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Endpoint = Callable[[Request], Awaitable[Response]]


class RouteShortcut:
    """Serves the routes of ``router`` without the framework's layers; passes the rest on.

    ``wrap`` wraps the ASGI app that serves a matched route (the gateway's middleware).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        router: APIRouter,
        wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.routes = [_checked(route) for route in router.routes]
        self.serve: ASGIApp = wrap(_serve) if wrap is not None else _serve

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """Match with the route's own rule, as Starlette's router would, first match wins."""
        if scope["type"] == "http":
            refused: APIRoute | None = None
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)  # the endpoint and its path parameters
                    await self.serve(scope, receive, send)
                    return
                if match is Match.PARTIAL and refused is None:
                    refused = route  # the path, not the method: 405 unless a later route serves
            if refused is not None:
                scope["endpoint"] = _not_allowed(refused)
                await self.serve(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _not_allowed(route: APIRoute) -> Endpoint:
    """The endpoint of a method the route does not serve: 405 with ``Allow`` (RFC 9110 15.5.6)."""

    async def refuse(request: Request) -> Response:
        raise MethodNotAllowed(
            f"{route.path} answers {', '.join(sorted(route.methods))}, not {request.method}",
            allow=route.methods,
        )

    return refuse


async def _serve(scope: Scope, receive: Any, send: Any) -> None:
    """Call the endpoint the match put in ``scope``; a gateway error is its JSON answer."""
    endpoint: Endpoint = scope["endpoint"]
    try:
        response = await endpoint(Request(scope, receive))
    except GatewayError as error:
        response = error_response(error)
    await response(scope, receive, send)


def _checked(route: Any) -> APIRoute:
    """Only an endpoint that takes the ``Request`` alone can skip FastAPI's request handler."""
    if not isinstance(route, APIRoute):
        raise TypeError(f"RouteShortcut serves APIRoute objects only, not {route!r}")
    dependant = route.dependant
    parameters = list(inspect.signature(route.endpoint).parameters)
    others = (
        dependant.path_params + dependant.query_params + dependant.header_params
        + dependant.cookie_params + dependant.body_params
    )  # fmt: skip
    if dependant.request_param_name is None or others or len(parameters) != 1:
        raise TypeError(
            f"the endpoint of {route.path} must take the Request alone to be served by "
            f"RouteShortcut; it takes {parameters}"
        )
    if dependant.dependencies:
        raise TypeError(f"the endpoint of {route.path} has dependencies; RouteShortcut skips them")
    return route
