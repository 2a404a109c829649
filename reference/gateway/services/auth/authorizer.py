"""``AccessPolicy``: may this request call this function? One decision for every route.

Access comes from the route (``routing.yml``), else the function
(``functions.yml``), else the gateway's default:

- ``public``: anyone; credentials, when sent, are checked and name the caller;
- ``user``: a verified user (API key or bearer JWT), of one of the function's
  ``tiers`` when it lists any (403 otherwise);
- ``worker``: an internal caller with a worker token; user credentials never
  open it, and a worker token never counts as a user.

Missing or invalid credentials answer 401 with ``WWW-Authenticate`` and the
same message whatever was wrong; repeated failures from one address answer
429 (:mod:`.failures`).
"""

from __future__ import annotations

from collections.abc import Sequence

from reference.gateway.core.errors import Forbidden, Unauthorized
from reference.gateway.models import FunctionEntity, Identity, InputContext
from reference.gateway.models.function import Access
from reference.gateway.services.auth.authenticator import Authenticator, InvalidCredentials
from reference.gateway.services.auth.failures import FailedAuthLimiter

__all__ = ["AccessPolicy"]

USER_CHALLENGE = 'Bearer realm="gateproof"'
WORKER_CHALLENGE = 'WorkerToken realm="gateproof-internal"'
_USER_HINT = "send Authorization: Bearer <token> or X-Api-Key"


class AccessPolicy:
    """Authenticates and authorises; with no authenticator at all, everything is public."""

    def __init__(
        self,
        users: Sequence[Authenticator] = (),
        workers: Authenticator | None = None,
        *,
        default: Access = "user",
        failures: FailedAuthLimiter | None = None,
    ) -> None:
        self.users = tuple(users)
        self.workers = workers
        self.enabled = bool(self.users) or workers is not None
        self.default: Access = default if self.enabled else "public"
        self.failures = failures

    def access_of(self, function: FunctionEntity, route_access: Access | None = None) -> Access:
        return route_access or function.auth or self.default

    async def admit(
        self, context: InputContext, function: FunctionEntity, route_access: Access | None = None
    ) -> Identity | None:
        """The caller's identity (also set on ``context``); raises 401, 403 or 429."""
        access = self.access_of(function, route_access)
        if access == "public" and not self.enabled:
            return None
        client = context.client or "unknown"
        if self.failures is not None:
            self.failures.check(client)
        try:
            if access == "worker":
                identity = self._worker(context)
            else:
                identity = self._user(context, required=access == "user")
        except Unauthorized:
            if self.failures is not None:
                await self.failures.failed(client)
            raise
        if identity is not None and access == "user" and function.tiers is not None:
            if identity.tier not in function.tiers:
                raise Forbidden(f"your tier may not call function {function.name!r}")
        context.identity = identity
        if identity is not None:
            context.user_id = identity.subject
        return identity

    def _user(self, context: InputContext, *, required: bool) -> Identity | None:
        for authenticator in self.users:
            try:
                identity = authenticator.authenticate(context.headers)
            except InvalidCredentials:
                raise Unauthorized(
                    f"missing or invalid credentials; {_USER_HINT}", challenge=USER_CHALLENGE
                ) from None
            if identity is not None:
                return identity
        if required:
            raise Unauthorized(
                f"missing or invalid credentials; {_USER_HINT}", challenge=USER_CHALLENGE
            )
        return None

    def _worker(self, context: InputContext) -> Identity:
        problem = Unauthorized(
            "missing or invalid worker token; send X-Worker-Token", challenge=WORKER_CHALLENGE
        )
        if self.workers is None:
            raise problem
        try:
            identity = self.workers.authenticate(context.headers)
        except InvalidCredentials:
            raise problem from None
        if identity is None:
            raise problem
        return identity
