"""A verified JWT is checked once and served from the cache until it expires."""

from __future__ import annotations

import time

import jwt
import pytest

from reference.gateway.services.auth import InvalidCredentials
from reference.gateway.services.auth.bearer import JwtRules, JwtVerifier

SECRET = "cache-test-" + "c" * 40


def test_a_token_is_verified_once_until_its_expiry_then_checked_again() -> None:
    now = time.time()
    clock = [now]
    verifier = JwtVerifier(JwtRules("HS256"), SECRET, leeway=5, clock=lambda: clock[0])
    token = jwt.encode({"sub": "erin", "tier": "free", "exp": int(now) + 60}, SECRET, "HS256")
    headers = {"authorization": f"Bearer {token}"}
    first = verifier.authenticate(headers)
    second = verifier.authenticate(headers)
    assert first == second and first is not None and first.subject == "erin"
    assert verifier.verified == 1
    clock[0] = now + 66  # past exp + leeway: the cache no longer vouches for it
    verifier.authenticate(headers)
    assert verifier.verified == 2


def test_a_refused_token_is_never_cached() -> None:
    verifier = JwtVerifier(JwtRules("HS256"), SECRET)
    forged = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "o" * 40, "HS256")
    for _ in range(2):
        with pytest.raises(InvalidCredentials, match="InvalidSignatureError"):
            verifier.verify(forged)
    assert verifier.verified == 0
