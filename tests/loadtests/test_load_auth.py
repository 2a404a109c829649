"""Load against a gateway with authentication: one credential per simulated user.

Each user takes its own line of ``--credentials``, so a gateway that limits
per user sees many users, not one shared token; no credential ever shows up
in the run's output or files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from load_helpers import gateproof_load, recording_server, write_scenario

from reference.gateway.services.auth.authenticator import hash_secret

ECHO_ONLY = """\
name: echo-only
duration: 8
warmup: 1
seed: 3
functions:
  echo:
    scaling: {max_capacity: 4, min_capacity: 2, acquire_timeout: 2.0, idle_timeout: 300}
    service: {kind: constant, value: 0.005}
workload:
  echo:
    arrivals: {kind: poisson, rate: 20}
    payload: {message: hello}
slo: {p99: 5.0}
"""

TINY_KEY = "gpk_tiny_" + "t" * 32  # tier tiny: one call, then 429 for a long while
BIG_KEY = "gpk_big_" + "b" * 32  # tier big: never limited in this run


def _secrets_absent(run, *secrets: str) -> None:
    texts = [run.stdout, run.stderr]
    texts += [p.read_text(errors="replace") for p in run.out.iterdir() if p.is_file()]
    for secret in secrets:
        assert all(secret not in text for text in texts), "a credential was shown"


def test_each_user_sends_its_own_line_and_none_is_shown(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, ECHO_ONLY)
    credentials = tmp_path / "credentials.txt"
    lines = ["tok-one-" + "1" * 20, "tok-two-" + "2" * 20, "X-Api-Key: gpk_three_" + "3" * 20]
    credentials.write_text("# one per simulated user\n" + "\n".join(lines) + "\n")
    with recording_server() as staging:
        run = gateproof_load(
            scenario, "--host", staging.url, "--credentials", credentials, out=tmp_path / "out"
        )
    assert run.status == 0, run.stderr[-2000:]
    seen = {r.get("authorization") for r in staging.requests} | {
        r.get("x-api-key") for r in staging.requests
    }
    assert {"Bearer " + lines[0], "Bearer " + lines[1], "gpk_three_" + "3" * 20} <= seen
    _secrets_absent(run, lines[0], lines[1], "gpk_three_" + "3" * 20)


def test_a_malformed_credentials_file_is_refused_before_any_request(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, ECHO_ONLY)
    credentials = tmp_path / "credentials.txt"
    credentials.write_text("secret with spaces-in-it\n")
    with recording_server() as staging:
        run = gateproof_load(
            scenario, "--host", staging.url, "--credentials", credentials, out=tmp_path / "out"
        )
        assert staging.requests == []
    assert run.status == 2
    assert "credentials.txt:1" in run.stderr and "secret with spaces" not in run.stderr


@contextmanager
def gateway_with_auth(folder: Path) -> Iterator[str]:
    """`gateproof serve` on 127.0.0.1 with API keys and a token bucket per user and tier."""
    (folder / "functions.yml").write_text(
        "functions:\n  echo: {environment: {GATEPROOF_FUNCTION: echo}, "
        "scaling: {max_capacity: 4, min_capacity: 2}}\n"
    )
    (folder / "routing.yml").write_text("routes: []\n")
    keys = [
        {"user": "tiny-user", "tier": "tiny", "sha256": hash_secret(TINY_KEY)},
        {"user": "big-user", "tier": "big", "sha256": hash_secret(BIG_KEY)},
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}
    env |= {
        "GATEPROOF_AUTH_API_KEYS": json.dumps(keys),
        "GATEPROOF_RATELIMIT_ENABLED": "true",
        "GATEPROOF_RATELIMIT_TIERS": json.dumps(
            {"tiny": {"rate": 0.01, "burst": 1}, "big": {"rate": 1000, "burst": 1000}}
        ),
        "GATEPROOF_RATELIMIT_DEFAULT_TIER": "big",
    }
    command = [sys.executable, "-m", "gateproof", "serve", "--port", "0", "--backend", "inprocess"]
    command += ["--functions", str(folder / "functions.yml")]
    command += ["--routing", str(folder / "routing.yml"), "--no-access-log"]
    process = subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert process.stderr is not None
        port = None
        for _ in range(50):  # bounded: the banner is the first line
            found = re.search(r"gateway on http://127\.0\.0\.1:(\d+)", process.stderr.readline())
            if found:
                port = int(found.group(1))
                break
        assert port is not None, f"serve did not start (exit {process.poll()})"
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):  # bounded wait for the warm pool
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(30)
        process.stderr.close()  # type: ignore[union-attr]


@pytest.fixture
def auth_gateway(tmp_path: Path) -> Iterator[str]:
    with gateway_with_auth(tmp_path) as url:
        yield url


def test_per_user_credentials_exercise_per_user_buckets(auth_gateway: str, tmp_path: Path):
    scenario = write_scenario(tmp_path, ECHO_ONLY)
    credentials = tmp_path / "credentials.txt"
    credentials.write_text(f"X-Api-Key: {TINY_KEY}\nX-Api-Key: {BIG_KEY}\n")
    run = gateproof_load(
        scenario, "--host", auth_gateway, "--credentials", credentials, out=tmp_path / "with"
    )
    echo = run.report["functions"]["echo"]
    by_status = {int(k): v for k, v in echo["responses_by_status"].items()}
    # the big user's calls pass; the tiny user's own bucket is empty after its first call
    assert by_status.get(200, 0) > 0 and by_status.get(429, 0) > 0, by_status
    assert 401 not in by_status
    assert set(echo["errors_by_code"]) == {"rate_limited"}
    _secrets_absent(run, TINY_KEY, BIG_KEY)

    anonymous = gateproof_load(scenario, "--host", auth_gateway, out=tmp_path / "without")
    # refused without credentials: the preflight's 401 ends the run before any load
    assert anonymous.status == 2, anonymous.stdout + anonymous.stderr
    assert "answered 401" in anonymous.stderr and "--credentials FILE" in anonymous.stderr
    assert not (tmp_path / "without" / "load.json").exists()
