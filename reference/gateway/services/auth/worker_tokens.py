"""Worker tokens: ``X-Worker-Token`` for internal routes, apart from user credentials.

Configured as a JSON mapping from a worker name to the token's SHA-256 digest
(``GATEPROOF_AUTH_WORKER_TOKENS='{"billing": "9f2c..."}'``). A worker token
never counts as a user credential, and a user credential never opens an
internal route.
"""

from __future__ import annotations

from collections.abc import Mapping

from reference.gateway.models import Identity
from reference.gateway.services.auth.authenticator import InvalidCredentials, find_by_digest

__all__ = ["HEADER", "WorkerTokens"]

HEADER = "x-worker-token"


class WorkerTokens:
    def __init__(self, digests: Mapping[str, str]) -> None:
        self._entries = [(digest, name) for name, digest in digests.items()]

    def authenticate(self, headers: Mapping[str, str]) -> Identity | None:
        token = headers.get(HEADER)
        if token is None:
            return None
        name = find_by_digest(self._entries, token)
        if name is None:
            raise InvalidCredentials("unknown worker token")
        return Identity(f"worker:{name}", None, "worker")
