"""API keys: ``X-Api-Key``, stored as SHA-256 digests, each with a user id and a tier.

The key file (``GATEPROOF_AUTH_API_KEYS_FILE``) or the environment
(``GATEPROOF_AUTH_API_KEYS``, JSON) holds only digests::

    keys:
      - {user: alice, tier: pro, sha256: 3b1f...}

``gateproof auth new-key --user alice --tier pro`` prints a fresh key once and
the line to paste.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reference.gateway.models import Identity
from reference.gateway.services.auth.authenticator import InvalidCredentials, find_by_digest
from reference.gateway.services.config_file import describe_validation_error, read_yaml

__all__ = ["HEADER", "ApiKeyEntry", "ApiKeys", "new_key"]

HEADER = "x-api-key"


class ApiKeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=128)
    tier: str | None = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hash_secret(key)")


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[ApiKeyEntry] = Field(default_factory=list)


def new_key() -> str:
    """A random key (256 bits), prefixed so it is recognisable in a secret scanner."""
    return "gpk_" + secrets.token_urlsafe(32)


class ApiKeys:
    """Verifies ``X-Api-Key`` against the stored digests."""

    def __init__(self, entries: Iterable[ApiKeyEntry]) -> None:
        self._entries = [(entry.sha256, entry) for entry in entries]

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def entries_from_file(path: Path | str) -> list[ApiKeyEntry]:
        """The entries of a key file; a broken file names the field and what is allowed."""
        raw = read_yaml(path)
        try:
            return _KeyFile.model_validate(raw).keys
        except ValidationError as error:
            raise describe_validation_error(path, "", error) from None

    def verify(self, key: str) -> Identity | None:
        entry = find_by_digest(self._entries, key)
        return None if entry is None else Identity(entry.user, entry.tier, "user")

    def authenticate(self, headers: Mapping[str, str]) -> Identity | None:
        key = headers.get(HEADER)
        if key is None:
            return None
        identity = self.verify(key)
        if identity is None:
            raise InvalidCredentials("unknown API key")
        return identity
