"""Who may call: authenticators turn credentials into an :class:`Identity`; the policy decides.

The seam is :class:`~.authenticator.Authenticator` (like the rate limiter's):
``authenticate(headers)`` returns an identity, ``None`` when the request
carries no credential of its kind, or raises :class:`~.authenticator.InvalidCredentials`.
Implementations: API keys (:mod:`.api_keys`), bearer JWTs (:mod:`.bearer`) and
worker tokens (:mod:`.worker_tokens`). :class:`~.authorizer.AccessPolicy`
applies a route's or function's access (``public``, ``user``, ``worker``) and
tiers, and limits repeated failures per client address (:mod:`.failures`).
With nothing configured the policy lets everyone through, as before.
"""

from reference.gateway.services.auth.authenticator import Authenticator, InvalidCredentials
from reference.gateway.services.auth.authorizer import AccessPolicy
from reference.gateway.services.auth.settings import AuthSettings, policy_from_settings

__all__ = [
    "AccessPolicy",
    "AuthSettings",
    "Authenticator",
    "InvalidCredentials",
    "policy_from_settings",
]
