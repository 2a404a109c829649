"""``POST /auth/login``: exchange an API key for a short-lived bearer JWT.

Served only when the gateway has both API keys and a JWT signing key; the
key goes in ``X-Api-Key`` (never in the URL, where logs would keep it).
Failed logins count towards the per-address limit, like any failed
authentication.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from reference.gateway.api.deps import services
from reference.gateway.api.schemas import ErrorBody
from reference.gateway.core.errors import RouteNotFound, Unauthorized
from reference.gateway.services.auth.api_keys import HEADER

router = APIRouter(tags=["auth"])


class TokenBody(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


@router.post(
    "/auth/login",
    response_model=TokenBody,
    responses={
        401: {"model": ErrorBody, "description": "missing or invalid API key"},
        429: {"model": ErrorBody, "description": "too many failed attempts; see Retry-After"},
    },
    summary="Exchange an API key (X-Api-Key) for a bearer token",
)
async def login(request: Request) -> TokenBody:
    container = services(request)
    login = container.login
    if login is None:
        raise RouteNotFound("no login here: the gateway has no API keys and JWT signing key")
    failures = container.access.failures
    client = request.client.host if request.client else "unknown"
    if failures is not None:
        failures.check(client)
    key = request.headers.get(HEADER)
    identity = login.api_keys.verify(key) if key else None
    if identity is None:
        if failures is not None:
            await failures.failed(client)
        raise Unauthorized("missing or invalid API key; send X-Api-Key")
    token = login.issuer.issue(identity)
    return TokenBody(access_token=token, expires_in=int(login.issuer.ttl))
