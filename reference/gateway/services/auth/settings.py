"""``GATEPROOF_AUTH_*``: which credentials the gateway accepts; nothing set means no auth.

=====================================  ==============================================
``GATEPROOF_AUTH_API_KEYS_FILE``        YAML of hashed API keys (see :mod:`.api_keys`)
``GATEPROOF_AUTH_API_KEYS``             the same list as JSON
``GATEPROOF_AUTH_JWT_ALGORITHM``        HS256 (default), RS256 or ES256
``GATEPROOF_AUTH_JWT_SECRET``           HS256 shared secret (>= 32 bytes)
``GATEPROOF_AUTH_JWT_PUBLIC_KEY_FILE``  RS256/ES256 verification key (PEM)
``GATEPROOF_AUTH_JWT_PRIVATE_KEY_FILE`` RS256/ES256 signing key, for the login route
``GATEPROOF_AUTH_JWT_ISSUER`` / ``_AUDIENCE``  checked when set (and put in issued tokens)
``GATEPROOF_AUTH_JWT_LEEWAY``           clock skew allowed on exp/nbf, seconds (30)
``GATEPROOF_AUTH_JWT_TIER_CLAIM``       the claim holding the tier (``tier``)
``GATEPROOF_AUTH_LOGIN_TTL``            lifetime of a login token, seconds (900)
``GATEPROOF_AUTH_WORKER_TOKENS``        JSON ``{"name": "<sha256 of the token>"}``
``GATEPROOF_AUTH_DEFAULT``              access where a route or function says none (user)
``GATEPROOF_AUTH_FAILURE_RATE`` / ``_BURST``  failed attempts allowed per address
=====================================  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference.gateway.models.function import Access
from reference.gateway.services.auth.api_keys import ApiKeyEntry, ApiKeys
from reference.gateway.services.auth.authenticator import Authenticator
from reference.gateway.services.auth.authorizer import AccessPolicy
from reference.gateway.services.auth.bearer import (
    JwtIssuer,
    JwtRules,
    JwtVerifier,
    KeyConfigError,
    load_key,
)
from reference.gateway.services.auth.failures import FailedAuthLimiter
from reference.gateway.services.auth.worker_tokens import WorkerTokens

__all__ = ["AuthSettings", "Login", "policy_from_settings"]


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEPROOF_AUTH_", extra="ignore", frozen=True)

    api_keys_file: Path | None = None
    api_keys: list[ApiKeyEntry] | None = None
    jwt_algorithm: str = "HS256"
    jwt_secret: SecretStr | None = None
    jwt_public_key_file: Path | None = None
    jwt_private_key_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway: float = Field(default=30.0, ge=0, le=600)
    jwt_tier_claim: str = "tier"
    login_ttl: float = Field(default=900.0, gt=0, le=86_400)
    worker_tokens: dict[str, str] | None = None
    default: Access = "user"
    failure_rate: float = Field(default=0.5, gt=0)
    failure_burst: int = Field(default=10, ge=1)

    @property
    def jwt_configured(self) -> bool:
        return self.jwt_secret is not None or self.jwt_public_key_file is not None


@dataclass(frozen=True)
class Login:
    """What the login route needs: the keys it accepts and the issuer of its tokens."""

    api_keys: ApiKeys
    issuer: JwtIssuer


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise KeyConfigError(f"{path}: cannot read the key file ({error.strerror})") from None


def policy_from_settings(
    settings: AuthSettings | None = None,
) -> tuple[AccessPolicy, Login | None]:
    """The access policy, and the login route's parts when API keys and JWTs are both set."""
    settings = settings or AuthSettings()
    users: list[Authenticator] = []
    keys: ApiKeys | None = None
    entries = list(settings.api_keys or [])
    if settings.api_keys_file is not None:
        entries += list(ApiKeys.entries_from_file(settings.api_keys_file))
    if entries or settings.api_keys_file is not None:
        keys = ApiKeys(entries)
        users.append(keys)
    login = None
    if settings.jwt_configured:
        algorithm = settings.jwt_algorithm
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        key = load_key(
            algorithm, secret=secret, pem=_read(settings.jwt_public_key_file), private=False
        )
        rules = JwtRules(
            algorithm, settings.jwt_issuer, settings.jwt_audience, settings.jwt_tier_claim
        )
        users.append(JwtVerifier(rules, key, leeway=settings.jwt_leeway))
        signing = None
        if algorithm == "HS256":
            signing = key
        elif settings.jwt_private_key_file is not None:
            pem = _read(settings.jwt_private_key_file)
            signing = load_key(algorithm, secret=None, pem=pem, private=True)
        if keys is not None and signing is not None:
            issuer = JwtIssuer(rules, signing, ttl=settings.login_ttl)
            login = Login(keys, issuer)
    workers = WorkerTokens(settings.worker_tokens) if settings.worker_tokens else None
    failures = FailedAuthLimiter(rate=settings.failure_rate, burst=settings.failure_burst)
    policy = AccessPolicy(users, workers, default=settings.default, failures=failures)
    return policy, login
