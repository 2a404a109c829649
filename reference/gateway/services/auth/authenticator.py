"""The authenticator seam, and the one rule for comparing secrets.

An :class:`Authenticator` reads one kind of credential from the request
headers. It returns ``None`` when that credential is absent (another
authenticator may apply) and raises :class:`InvalidCredentials` when it is
present but does not verify. The reason stays in the exception for tests and
never reaches the client or the log: the answer is the same 401 whether a key
is unknown, malformed or expired, so no answer reveals that a user exists.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar, runtime_checkable

from reference.gateway.models import Identity

__all__ = ["Authenticator", "InvalidCredentials", "find_by_digest", "hash_secret"]

T = TypeVar("T")


class InvalidCredentials(Exception):
    """A credential was presented and did not verify."""


@runtime_checkable
class Authenticator(Protocol):
    def authenticate(self, headers: Mapping[str, str]) -> Identity | None:
        """The caller, ``None`` without this kind of credential; raises ``InvalidCredentials``."""
        ...


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which API keys and worker tokens are stored.

    A fast hash is enough for random, high-entropy secrets (a slow one would
    only cost CPU per request); what must not leak is the secret itself.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def find_by_digest(entries: Iterable[tuple[str, T]], secret: str) -> T | None:
    """The entry whose digest matches ``secret``, comparing every entry in constant time."""
    digest = hash_secret(secret).encode()
    found: T | None = None
    for stored, entry in entries:
        if hmac.compare_digest(stored.encode(), digest):
            found = entry
    return found
