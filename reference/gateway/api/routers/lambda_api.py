"""The Lambda invoke API: ``POST /2015-03-31/functions/{name}/invocations``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response

from reference.gateway.api.context import request_to_context
from reference.gateway.api.deps import services
from reference.gateway.api.responses import result_to_response
from reference.gateway.api.schemas import ANY_JSON_BODY, INVOKE_ERRORS

router = APIRouter(tags=["invoke"])


@router.post(
    "/2015-03-31/functions/{name}/invocations",
    responses={
        200: {"description": "the function's answer, as it returned it"},
        202: {"description": "accepted: an Event invocation runs in the background"},
        **INVOKE_ERRORS,
    },
    openapi_extra=ANY_JSON_BODY,
    summary="Invoke a function",
)
async def invoke(
    name: str,
    request: Request,
    invocation_type: Annotated[
        Literal["RequestResponse", "Event"], Header(alias="X-Amz-Invocation-Type")
    ] = "RequestResponse",
) -> Response:
    """Run function ``name`` with the body as its event; ``Event`` answers 202 at once."""
    container = services(request)
    if name in container.registry:  # never label metrics with unchecked client input
        request.state.function = name
    context = await request_to_context(request, container.settings.max_body_bytes)
    if invocation_type == "Event":
        result = await container.processor.invoke_event(name, context)
    else:
        result = await container.processor.invoke(name, context)
    return result_to_response(result)
