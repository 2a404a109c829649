"""No secret leaves the gateway: not in a log line, a metric, an error body or a header.

A real ``gateproof serve`` with API keys, JWTs, worker tokens and rate limits
is called with every kind of credential, valid and not; then every byte it
wrote and every response it sent is searched for each secret.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import jwt
import pytest
from test_gateway_serve import SERVE, _env, _wait_for_port, _wait_healthy

from reference.gateway.services.auth.authenticator import hash_secret

pytestmark = pytest.mark.timeout(120)

API_KEY = "gpk_leaktest_" + "k" * 32
WRONG_KEY = "gpk_leaktest_" + "w" * 32
WORKER_TOKEN = "wt_leaktest_" + "t" * 32
JWT_SECRET = "jwt-leaktest-" + "s" * 40

FUNCTIONS = """
functions:
  echo: {environment: {GATEPROOF_FUNCTION: echo}}
  internal: {environment: {GATEPROOF_FUNCTION: echo}, auth: worker}
"""
ROUTING = """
routes:
  - {path: /echo, method: POST, function: echo}
"""


def test_no_secret_appears_in_any_output_of_a_run(tmp_path: Path) -> None:
    (tmp_path / "functions.yml").write_text(FUNCTIONS)
    (tmp_path / "routing.yml").write_text(ROUTING)
    keys = [{"user": "leaky", "tier": "free", "sha256": hash_secret(API_KEY)}]
    env = _env() | {
        "GATEPROOF_AUTH_API_KEYS": json.dumps(keys),
        "GATEPROOF_AUTH_JWT_SECRET": JWT_SECRET,
        "GATEPROOF_AUTH_WORKER_TOKENS": json.dumps({"ops": hash_secret(WORKER_TOKEN)}),
        "GATEPROOF_RATELIMIT_ENABLED": "true",
        "GATEPROOF_RATELIMIT_TIERS": '{"free": {"rate": 100, "burst": 100}}',
        "GATEPROOF_RATELIMIT_DEFAULT_TIER": "free",
    }
    wrong_jwt = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "w" * 40, "HS256")
    config = ["--functions", str(tmp_path / "functions.yml")]
    config += ["--routing", str(tmp_path / "routing.yml")]
    process = subprocess.Popen(
        [*SERVE, "--port", "0", "--backend", "inprocess", *config],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        base = f"http://127.0.0.1:{_wait_for_port(process)}"
        _wait_healthy(base)
        invoke = base + "/2015-03-31/functions/{}/invocations"
        with httpx.Client(timeout=30) as client:
            login = client.post(base + "/auth/login", headers={"X-Api-Key": API_KEY})
            issued = login.json()["access_token"]
            calls = [
                client.post(invoke.format("echo"), headers={"X-Api-Key": API_KEY}),
                client.post(invoke.format("echo"), headers={"X-Api-Key": WRONG_KEY}),
                client.post(invoke.format("echo"), headers={"Authorization": f"Bearer {issued}"}),
                client.post(base + "/echo", headers={"Authorization": f"Bearer {wrong_jwt}"}),
                client.post(base + "/echo", headers={"Authorization": f"Basic {API_KEY}"}),
                client.post(invoke.format("internal"), headers={"X-Worker-Token": WORKER_TOKEN}),
                client.post(invoke.format("internal"), headers={"X-Worker-Token": API_KEY}),
                client.post(base + "/auth/login", headers={"X-Api-Key": WRONG_KEY}),
                client.get(base + "/metrics"),
                client.get(base + "/api/gateway/status"),
                client.get(base + "/api/gateway/services"),
            ]
        assert [c.status_code for c in calls[:8]] == [200, 401, 200, 401, 401, 200, 401, 401]
        seen.append(json.dumps(login.headers.multi_items()))  # its body is the issued token
        for response in calls:
            seen += [response.text, json.dumps(response.headers.multi_items())]
    finally:
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    seen += [out, err]
    assert '"status": 200' in out or '"status":200' in out, "the access log was on"
    everything = "\n".join(seen)
    for secret in (API_KEY, WRONG_KEY, WORKER_TOKEN, JWT_SECRET, issued, wrong_jwt):
        assert secret not in everything, f"a secret leaked: {secret[:12]}..."
    assert hash_secret(API_KEY) not in everything
