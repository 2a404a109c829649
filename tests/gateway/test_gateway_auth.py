"""Who may call: every refusal answers 401, 403 or 429 as JSON, and never reaches a worker."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from gateway_helpers import Gateway, GatewayFactory, error_code, invoke_url

from reference.gateway.services.auth import AuthSettings
from reference.gateway.services.auth.authenticator import hash_secret

SECRET = "s3cret-" + "x" * 40
ALICE_KEY, BOB_KEY, WORKER_TOKEN = "gpk_alice_" + "a" * 30, "gpk_bob_" + "b" * 30, "wt_" + "w" * 30

FUNCTIONS = """
defaults:
  timeout_seconds: 5
  scaling: {max_capacity: 2, acquire_timeout: 2}
functions:
  echo: {environment: {GATEPROOF_FUNCTION: echo}}
  premium: {environment: {GATEPROOF_FUNCTION: echo}, tiers: [pro]}
  open: {environment: {GATEPROOF_FUNCTION: echo}, auth: public}
  internal: {environment: {GATEPROOF_FUNCTION: echo}, auth: worker}
"""

ROUTING = """
routes:
  - {path: /echo, method: POST, function: echo}
  - {path: /public, method: POST, function: echo, auth: public}
  - {path: /internal/jobs, method: POST, function: echo, auth: worker}
"""


def _keys() -> list[dict[str, str]]:
    return [
        {"user": "alice", "tier": "pro", "sha256": hash_secret(ALICE_KEY)},
        {"user": "bob", "tier": "free", "sha256": hash_secret(BOB_KEY)},
    ]


def hs256_settings(**extra: Any) -> AuthSettings:
    return AuthSettings(
        api_keys=_keys(),
        jwt_secret=SECRET,
        jwt_issuer="gateproof-test",
        jwt_audience="gateway",
        jwt_leeway=5,
        worker_tokens={"billing": hash_secret(WORKER_TOKEN)},
        **extra,
    )


def token(key: Any = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "carol", "tier": "pro", "iss": "gateproof-test", "aud": "gateway"}
    body.update({"iat": now, "nbf": now, "exp": now + 300})
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=algorithm)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    async with make_gateway(functions=FUNCTIONS, routing=ROUTING, auth=hs256_settings()) as gw:
        yield gw


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert response.headers["x-request-id"]
    if status == 401:
        assert response.headers["www-authenticate"]


def no_worker_started(gw: Gateway, function: str = "echo") -> bool:
    return gw.container.pool_stats()[function].total == 0


# -- credentials that open the door ---------------------------------------------------------


async def test_an_api_key_a_bearer_jwt_and_a_login_token_each_invoke_a_function(gw: Gateway):
    assert (
        await gw.client.post(invoke_url("echo"), headers={"X-Api-Key": ALICE_KEY})
    ).status_code == 200
    assert (await gw.client.post(invoke_url("echo"), headers=bearer(token()))).status_code == 200
    login = await gw.client.post("/auth/login", headers={"X-Api-Key": BOB_KEY})
    assert login.status_code == 200
    issued = login.json()
    assert issued["token_type"] == "Bearer" and 0 < issued["expires_in"] <= 900
    claims = jwt.decode(issued["access_token"], SECRET, algorithms=["HS256"], audience="gateway")
    assert claims["sub"] == "bob" and claims["tier"] == "free" and claims["iss"] == "gateproof-test"
    routed = await gw.client.post("/echo", headers=bearer(issued["access_token"]), json={"a": 1})
    assert routed.status_code == 200


async def test_the_verified_user_reaches_the_function_in_the_proxy_event(gw: Gateway):
    response = await gw.client.post("/echo", headers={"X-Api-Key": ALICE_KEY}, json={})
    event = response.json()
    context = event.get("requestContext") or json.loads(event["body"])["requestContext"]
    assert context["authorizer"]["principalId"] == "alice"


async def test_public_routes_and_functions_need_no_credentials(gw: Gateway):
    assert (await gw.client.post("/public", json={})).status_code == 200
    assert (await gw.client.post(invoke_url("open"))).status_code == 200


async def test_a_worker_token_opens_internal_routes_and_functions(gw: Gateway):
    headers = {"X-Worker-Token": WORKER_TOKEN}
    assert (await gw.client.post("/internal/jobs", headers=headers, json={})).status_code == 200
    assert (await gw.client.post(invoke_url("internal"), headers=headers)).status_code == 200


# -- every refusal ----------------------------------------------------------------------------


def now() -> int:
    return int(time.time())


# Each case makes its headers when it runs (a token made at import could turn valid or
# expire before a slow run reaches it).
@pytest.mark.parametrize(
    ("why", "headers"),
    [
        ("missing", lambda: {}),
        ("malformed scheme", lambda: {"Authorization": "Basic YWxpY2U6cHc="}),
        ("empty bearer", lambda: {"Authorization": "Bearer "}),
        ("not a JWT", lambda: bearer("not.a.jwt")),
        ("expired", lambda: bearer(token(exp=now() - 60))),
        ("not yet valid", lambda: bearer(token(nbf=now() + 120))),
        ("no expiry", lambda: bearer(token(exp=None))),
        ("wrong issuer", lambda: bearer(token(iss="someone-else"))),
        ("wrong audience", lambda: bearer(token(aud="another-api"))),
        ("wrong signature", lambda: bearer(token(key="another-secret-" + "y" * 40))),
        ("unknown API key", lambda: {"X-Api-Key": "gpk_nobody_" + "n" * 30}),
        ("a worker token on a user route", lambda: {"X-Worker-Token": WORKER_TOKEN}),
    ],
)
async def test_user_routes_refuse_with_401(gw: Gateway, why: str, headers: Any):
    for response in (
        await gw.client.post(invoke_url("echo"), headers=headers()),
        await gw.client.post("/echo", headers=headers(), json={}),
    ):
        assert_refused(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert no_worker_started(gw)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_alg_none_is_refused(gw: Gateway):
    claims = {"sub": "mallory", "tier": "pro", "exp": now() + 300}
    claims |= {"iss": "gateproof-test", "aud": "gateway"}
    response = await gw.client.post(invoke_url("echo"), headers=bearer(_unsigned(claims)))
    assert_refused(response, 401, "unauthorized")
    assert no_worker_started(gw)


async def test_the_refusal_never_says_whether_a_user_or_key_exists(gw: Gateway):
    wrong_key_of_known_user = await gw.client.post(
        invoke_url("echo"), headers={"X-Api-Key": ALICE_KEY + "x"}
    )
    unknown = await gw.client.post(invoke_url("echo"), headers={"X-Api-Key": "gpk_who_" + "z" * 30})
    expired = await gw.client.post(invoke_url("echo"), headers=bearer(token(exp=now() - 60)))
    assert wrong_key_of_known_user.json() == unknown.json() == expired.json()
    assert "alice" not in wrong_key_of_known_user.text


async def test_a_tier_not_allowed_is_403(gw: Gateway):
    response = await gw.client.post(invoke_url("premium"), headers={"X-Api-Key": BOB_KEY})
    assert_refused(response, 403, "forbidden")
    assert no_worker_started(gw, "premium")
    allowed = await gw.client.post(invoke_url("premium"), headers={"X-Api-Key": ALICE_KEY})
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Api-Key": ALICE_KEY}, bearer(token()), {"X-Worker-Token": "wt_wrong_" + "q" * 20}],
    ids=["none", "api key", "user jwt", "wrong worker token"],
)
async def test_internal_routes_refuse_user_credentials_and_bad_tokens(gw: Gateway, headers):
    for response in (
        await gw.client.post("/internal/jobs", headers=headers, json={}),
        await gw.client.post(invoke_url("internal"), headers=headers),
    ):
        assert_refused(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("WorkerToken")
    assert no_worker_started(gw, "internal")


async def test_a_failed_login_is_401_and_a_gateway_without_login_has_no_route(
    gw: Gateway, make_gateway: GatewayFactory
):
    assert_refused(await gw.client.post("/auth/login"), 401, "unauthorized")
    refused = await gw.client.post("/auth/login", headers={"X-Api-Key": "gpk_x_" + "1" * 30})
    assert_refused(refused, 401, "unauthorized")
    async with make_gateway() as plain:
        assert_refused(await plain.client.post("/auth/login"), 404, "route_not_found")


async def test_repeated_failures_from_one_address_are_429_even_with_good_credentials(
    make_gateway: GatewayFactory,
):
    settings = hs256_settings(failure_burst=3, failure_rate=0.01)
    async with make_gateway(functions=FUNCTIONS, routing=ROUTING, auth=settings) as gw:
        bad = {"X-Api-Key": "gpk_guess_" + "g" * 30}
        statuses = [
            (await gw.client.post(invoke_url("echo"), headers=bad)).status_code for _ in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
        blocked = await gw.client.post(invoke_url("echo"), headers={"X-Api-Key": ALICE_KEY})
        assert_refused(blocked, 429, "rate_limited")
        assert int(blocked.headers["retry-after"]) >= 1


# -- asymmetric keys --------------------------------------------------------------------------


def _pem(key: Any, private: bool) -> bytes:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
    ],
)
async def test_public_key_algorithms_verify_and_login_signs_with_the_private_key(
    make_gateway: GatewayFactory, tmp_path: Path, algorithm: str, make_key
):
    private = make_key()
    (tmp_path / "public.pem").write_bytes(_pem(private, False))
    (tmp_path / "private.pem").write_bytes(_pem(private, True))
    settings = AuthSettings(
        api_keys=_keys(),
        jwt_algorithm=algorithm,
        jwt_public_key_file=tmp_path / "public.pem",
        jwt_private_key_file=tmp_path / "private.pem",
    )
    async with make_gateway(functions=FUNCTIONS, routing=ROUTING, auth=settings) as gw:
        signed = token(key=private, algorithm=algorithm, iss=None, aud=None)
        assert (await gw.client.post(invoke_url("echo"), headers=bearer(signed))).status_code == 200
        login = await gw.client.post("/auth/login", headers={"X-Api-Key": ALICE_KEY})
        issued = login.json()["access_token"]
        assert jwt.get_unverified_header(issued)["alg"] == algorithm
        assert (await gw.client.post(invoke_url("echo"), headers=bearer(issued))).status_code == 200
        # the classic confusion: the public key used as an HS256 secret
        forged = _hs256_with_raw_key(_pem(private, False))
        response = await gw.client.post(invoke_url("echo"), headers=bearer(forged))
        assert_refused(response, 401, "unauthorized")


def _hs256_with_raw_key(key: bytes) -> str:
    """An HS256 token whose HMAC key is the server's public key (PyJWT refuses to make one)."""
    import hashlib
    import hmac

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps({"sub": "mallory", "tier": "pro", "exp": now() + 300}).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{part(signature)}"


# -- configuration ----------------------------------------------------------------------------


async def test_without_auth_configured_everything_is_public_as_before(make_gateway: GatewayFactory):
    async with make_gateway() as gw:
        assert (await gw.client.post(invoke_url("echo"))).status_code == 200
        assert gw.container.access.enabled is False


async def test_a_route_that_needs_auth_on_a_gateway_without_it_stops_startup(
    make_gateway: GatewayFactory,
):
    with pytest.raises(ValueError, match=r"routes\[2\]\.auth.*no authentication is configured"):
        async with make_gateway(
            functions=FUNCTIONS.replace("auth: worker", "auth: public"),
            routing=ROUTING,
        ):
            pass


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"jwt_secret": "short"}, "at least 32 random bytes"),
        (
            {"jwt_algorithm": "RS256", "jwt_public_key_file": "missing.pem"},
            "cannot read the key file",
        ),
        ({"jwt_algorithm": "none", "jwt_secret": SECRET}, "not supported"),
    ],
)
async def test_unusable_jwt_settings_stop_startup_with_what_to_do(
    make_gateway: GatewayFactory, settings: dict[str, Any], message: str
):
    with pytest.raises(ValueError, match=message):
        async with make_gateway(auth=AuthSettings(**settings)):
            pass


# -- limits per caller ------------------------------------------------------------------------

TIERS = '{"free": {"rate": 0.01, "burst": 2}, "pro": {"rate": 0.01, "burst": 4}}'


@pytest.fixture
def tiered_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEPROOF_RATELIMIT_ENABLED", "true")
    monkeypatch.setenv("GATEPROOF_RATELIMIT_TIERS", TIERS)
    monkeypatch.setenv("GATEPROOF_RATELIMIT_DEFAULT_TIER", "free")


async def test_each_user_spends_their_own_bucket_in_their_tier(
    make_gateway: GatewayFactory, tiered_limits: None
):
    async with make_gateway(functions=FUNCTIONS, routing=ROUTING, auth=hs256_settings()) as gw:

        async def calls(headers: dict[str, str], count: int) -> list[int]:
            responses = await asyncio.gather(
                *(gw.client.post(invoke_url("open"), headers=headers) for _ in range(count))
            )
            return sorted(r.status_code for r in responses)

        alice, bob = await asyncio.gather(
            calls({"X-Api-Key": ALICE_KEY}, 6), calls({"X-Api-Key": BOB_KEY}, 6)
        )
        assert alice == [200] * 4 + [429] * 2  # pro: burst 4
        assert bob == [200] * 2 + [429] * 4  # free: burst 2, not shared with alice
        carol = await calls(bearer(token(sub="carol", tier="pro")), 4)
        assert carol == [200] * 4  # a third user, a fresh bucket


async def test_anonymous_callers_are_limited_per_address(
    make_gateway: GatewayFactory, tiered_limits: None
):
    async with make_gateway(functions=FUNCTIONS, routing=ROUTING, auth=hs256_settings()) as gw:
        app = gw.app

        def client_from(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://gateway")

        async with client_from("127.0.0.2") as first, client_from("127.0.0.3") as second:
            one = [(await first.post("/public", json={})).status_code for _ in range(3)]
            two = [(await second.post("/public", json={})).status_code for _ in range(3)]
        assert one == [200, 200, 429] and two == [200, 200, 429]
