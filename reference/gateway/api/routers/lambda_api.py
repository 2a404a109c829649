"""The Lambda invoke API: ``POST /2015-03-31/functions/{name}/invocations``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from reference.gateway.api.context import request_to_context
from reference.gateway.api.deps import services
from reference.gateway.api.responses import result_to_response
from reference.gateway.api.schemas import ANY_JSON_BODY, INVOKE_ERRORS
from reference.gateway.core.errors import BadRequest

INVOCATION_TYPES = ("RequestResponse", "Event")

# The path parameter and the header are read by hand (FastAPI's parameter machinery costs
# more than the rest of the route on this hot path) and documented here instead.
_OPENAPI: dict[str, Any] = {
    **ANY_JSON_BODY,
    "parameters": [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "the function, as functions.yml names it",
        },
        {
            "name": "X-Amz-Invocation-Type",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": list(INVOCATION_TYPES)},
            "description": "Event: answer 202 at once and run the call in the background",
        },
    ],
}

router = APIRouter(tags=["invoke"])


@router.post(
    "/2015-03-31/functions/{name}/invocations",
    responses={
        200: {"description": "the function's answer, as it returned it"},
        202: {"description": "accepted: an Event invocation runs in the background"},
        **INVOKE_ERRORS,
    },
    openapi_extra=_OPENAPI,
    summary="Invoke a function",
)
async def invoke(request: Request) -> Response:
    """Run function ``name`` with the body as its event; ``Event`` answers 202 at once."""
    name: str = request.path_params["name"]
    invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type not in INVOCATION_TYPES:
        raise BadRequest(
            f"X-Amz-Invocation-Type must be one of {', '.join(INVOCATION_TYPES)}, "
            f"not {invocation_type!r}"
        )
    container = services(request)
    if name in container.registry:  # never label metrics with unchecked client input
        request.state.function = name
    context = await request_to_context(request, container.settings.max_body_bytes)
    if invocation_type == "Event":
        result = await container.processor.invoke_event(name, context)
    else:
        result = await container.processor.invoke(name, context)
    if result.retries:  # for the access log
        request.scope["state"]["retries"] = result.retries
    return result_to_response(result)
