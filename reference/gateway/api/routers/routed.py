"""The catch-all: any other path goes to the function ``routing.yml`` maps it to.

It must be included last, after every fixed route.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from reference.gateway.api.context import request_to_context
from reference.gateway.api.deps import services
from reference.gateway.api.responses import result_to_response
from reference.gateway.api.schemas import ANY_JSON_BODY, INVOKE_ERRORS
from reference.gateway.core.errors import MethodNotAllowed, RouteNotFound
from reference.gateway.services.routing import RouteMatch

router = APIRouter(tags=["routed"])


async def routed(path: str, request: Request) -> Response:
    """Build a Lambda proxy event from the request and invoke the routed function."""
    container = services(request)
    context = await request_to_context(request, container.settings.max_body_bytes)
    try:
        match: RouteMatch | None = container.routes.match(context.path, context.method)
    except (RouteNotFound, MethodNotAllowed):  # the processor answers the 404 or 405 itself
        match = None
    request.state.function = match.route.function if match else None
    result = await container.processor.process(context, match)
    if result.retries:  # for the access log
        request.scope["state"]["retries"] = result.retries
    return result_to_response(result)


_DOCUMENTED = ("GET", "POST", "PUT", "PATCH", "DELETE")
for _method in (*_DOCUMENTED, "HEAD", "OPTIONS"):
    router.add_api_route(
        "/{path:path}",
        routed,
        methods=[_method],
        operation_id=f"routed_{_method.lower()}",
        include_in_schema=_method in _DOCUMENTED,
        responses={200: {"description": "the function's proxy response"}, **INVOKE_ERRORS},
        openapi_extra=ANY_JSON_BODY if _method in ("POST", "PUT", "PATCH") else None,
        summary=f"Routed {_method}",
    )
