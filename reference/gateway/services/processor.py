"""``GatewayRequestProcessor``: from an :class:`InputContext` to an :class:`InvocationResult`.

The presentation layer converts a request into an ``InputContext`` and a
result into a response; everything in between happens here, with no FastAPI
types: route matching, the rate limit, the proxy event, the invocation.
"""

from __future__ import annotations

import json

from reference.gateway.core.errors import BadRequest, GatewayError
from reference.gateway.models import InputContext, InvocationResult
from reference.gateway.services.auth import AccessPolicy
from reference.gateway.services.background import BackgroundInvocations
from reference.gateway.services.event_builder import EventBuilder, proxy_response_to_result
from reference.gateway.services.invoker import LambdaInvoker, error_result
from reference.gateway.services.ratelimit import NoRateLimit, RateLimiter
from reference.gateway.services.routing import RouteMatch, RouteTable

__all__ = ["GatewayRequestProcessor"]

_ACCEPTED = InvocationResult(True, 202, b"", {})


class GatewayRequestProcessor:
    """The service layer behind every invocation endpoint."""

    def __init__(
        self,
        invoker: LambdaInvoker,
        event_builder: EventBuilder,
        routes: RouteTable,
        *,
        rate_limiter: RateLimiter | None = None,
        background: BackgroundInvocations | None = None,
        access: AccessPolicy | None = None,
    ) -> None:
        self.invoker = invoker
        self.event_builder = event_builder
        self.routes = routes
        self.rate_limiter = rate_limiter or NoRateLimit()
        self.background = background or BackgroundInvocations(64)
        self.access = access or AccessPolicy()

    async def process(
        self, context: InputContext, match: RouteMatch | None = None
    ) -> InvocationResult:
        """A routed request: match the route, build the proxy event, invoke, map the answer.

        ``match`` is the route the caller already found for ``context``; without
        it the route is matched here (and a missing one answers 404).
        """
        try:
            if match is None:
                match = self.routes.match(context.path, context.method)
            function = self.invoker.registry.get(match.route.function)
            await self.access.admit(context, function, match.route.auth)
            _check_json(context)
            await self.rate_limiter.check(context, match.route.function)
            event = self.event_builder.build(context, match)
            result = await self.invoker.invoke_function(
                match.route.function, event, context.headers, context.timing
            )
            return proxy_response_to_result(result) if result.success else result
        except GatewayError as error:
            return error_result(error)

    async def invoke(self, name: str, context: InputContext) -> InvocationResult:
        """The invoke API: the body is the function's payload, as is."""
        try:
            await self._admit(name, context)
        except GatewayError as error:
            return error_result(error)
        return await self.invoker.invoke_function(
            name, context.body, context.headers, context.timing
        )

    async def invoke_event(self, name: str, context: InputContext) -> InvocationResult:
        """``X-Amz-Invocation-Type: Event``: 202 at once, the call runs in the background."""
        try:
            await self._admit(name, context)
            call = self.invoker.invoke_function(name, context.body, context.headers)
            self.background.submit(call, name)
        except GatewayError as error:
            return error_result(error)
        return _ACCEPTED

    async def _admit(self, name: str, context: InputContext) -> None:
        """Raises unless ``name`` may be invoked now, by this caller.

        ``registry.get`` checks the name on a miss, so a malformed name is 422
        ``invalid_function_name`` and a well-formed unknown one 404. Then who
        calls (401, 403), then how often (429).
        """
        function = self.invoker.registry.get(name)
        await self.access.admit(context, function)
        await self.rate_limiter.check(context, name)


def _check_json(context: InputContext) -> None:
    content_type = context.headers.get("content-type", "")
    if not context.body or "json" not in content_type.lower():
        return
    try:
        json.loads(context.body)
    except ValueError as error:
        raise BadRequest(
            f"the body is not valid JSON ({error}); fix it or change Content-Type"
        ) from None
