"""Bearer JWTs (PyJWT): verified against one configured algorithm, cached until expiry.

What is refused, whatever the token's header says: any algorithm but the one
configured (so never ``none``, and an RS256 public key is never used as an
HS256 secret), a missing or past ``exp``, a future ``nbf``, and a wrong
``iss`` or ``aud`` when those are configured; ``leeway`` seconds of clock skew
are allowed on the time claims. The tier is read from a claim (``tier`` by
default).

A verified token is cached (bounded) until it expires, so a client that sends
the same token on every call pays for one signature check, not one per call.

:class:`JwtIssuer` makes the short-lived tokens of the login route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)

from reference.gateway.models import Identity
from reference.gateway.services.auth.authenticator import InvalidCredentials

__all__ = ["ALGORITHMS", "JwtIssuer", "JwtRules", "JwtVerifier", "KeyConfigError", "load_key"]

HEADER = "authorization"
ALGORITHMS = ("HS256", "RS256", "ES256")
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash
_KEY_TYPES = {
    "RS256": (rsa.RSAPublicKey, rsa.RSAPrivateKey),
    "ES256": (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey),
}


class KeyConfigError(ValueError):
    """A configured key does not suit the algorithm; the message says what to give."""


def load_key(algorithm: str, *, secret: str | None, pem: bytes | None, private: bool) -> Any:
    """The key object PyJWT should use, checked against ``algorithm`` at start-up."""
    if algorithm not in ALGORITHMS:
        raise KeyConfigError(
            f"JWT algorithm {algorithm!r} is not supported; use one of {ALGORITHMS}"
        )
    if algorithm == "HS256":
        if not secret:
            raise KeyConfigError("HS256 needs a shared secret: set GATEPROOF_AUTH_JWT_SECRET")
        if len(secret.encode()) < MIN_SECRET_BYTES or secret.lstrip().startswith("-----BEGIN"):
            raise KeyConfigError(
                f"the HS256 secret must be at least {MIN_SECRET_BYTES} random bytes and not a PEM "
                f"key (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return secret
    if pem is None:
        which = "PRIVATE" if private else "PUBLIC"
        raise KeyConfigError(
            f"{algorithm} needs a key file: set GATEPROOF_AUTH_JWT_{which}_KEY_FILE"
        )
    try:
        key = load_pem_private_key(pem, password=None) if private else load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise KeyConfigError(f"the {algorithm} key file is not a PEM key ({error})") from None
    if not isinstance(key, _KEY_TYPES[algorithm][1 if private else 0]):
        raise KeyConfigError(
            f"the key file holds a {type(key).__name__}, not a key for {algorithm}"
        )
    return key


@dataclass(frozen=True)
class JwtRules:
    """What the gateway's tokens look like: shared by the verifier and the login's issuer."""

    algorithm: str
    issuer: str | None = None
    audience: str | None = None
    tier_claim: str = "tier"


class JwtVerifier:
    """Verifies ``Authorization: Bearer <jwt>``."""

    def __init__(
        self,
        rules: JwtRules,
        key: Any,
        *,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
    ) -> None:
        self.rules = rules
        self._key = key
        self._leeway = leeway
        self._clock = clock
        self._cache: dict[str, tuple[Identity, float]] = {}
        self._cache_size = cache_size
        self.verified = 0  # signature checks done (cache misses that verified)

    def authenticate(self, headers: Mapping[str, str]) -> Identity | None:
        value = headers.get(HEADER)
        if value is None:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidCredentials("Authorization is not 'Bearer <token>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Identity:
        now = self._clock()
        cached = self._cache.get(token)
        if cached is not None:
            if now < cached[1]:
                return cached[0]
            del self._cache[token]
        try:
            rules = self.rules
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[rules.algorithm],
                issuer=rules.issuer,
                audience=rules.audience,
                leeway=self._leeway,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": rules.audience is not None,
                    "verify_iss": rules.issuer is not None,
                },
            )
        except jwt.PyJWTError as error:
            raise InvalidCredentials(f"{type(error).__name__}: {error}") from None
        tier = claims.get(self.rules.tier_claim)
        identity = Identity(str(claims["sub"]), None if tier is None else str(tier), "user")
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # simple bound; verified tokens are cheap to re-check once
        self._cache[token] = (identity, float(claims["exp"]) + self._leeway)
        self.verified += 1
        return identity


class JwtIssuer:
    """Signs the short-lived tokens the login route hands out for an API key."""

    def __init__(
        self,
        rules: JwtRules,
        key: Any,
        *,
        ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self.ttl = ttl
        self._key = key
        self._clock = clock

    def issue(self, identity: Identity) -> str:
        now, rules = int(self._clock()), self.rules
        claims: dict[str, Any] = {"sub": identity.subject, "iat": now, "nbf": now}
        claims["exp"] = now + int(self.ttl)
        optional = {rules.tier_claim: identity.tier, "iss": rules.issuer, "aud": rules.audience}
        claims.update({name: value for name, value in optional.items() if value is not None})
        return jwt.encode(claims, self._key, algorithm=rules.algorithm)
