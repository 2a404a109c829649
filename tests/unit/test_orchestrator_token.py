"""The orchestrator serves only callers with its token; the gateway sends it."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from reference.gateway.backends.docker import DockerBackendSettings
from reference.gateway.services.orchestrator_client import (
    OrchestratorUnavailableError,
    ProvisionClient,
)
from reference.orchestrator.app import create_app
from reference.orchestrator.settings import OrchestratorSettings

GUARDED = [
    ("POST", "/containers/provision", {"function": "f"}),
    ("POST", "/containers/ensure", {"function_name": "f"}),
    ("POST", "/containers/heartbeat", {"ids": []}),
    ("GET", "/containers/sync", None),
    ("DELETE", "/containers/abc", None),
]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-Token": "t0k"}])
def test_every_container_route_refuses_a_stranger_with_401(headers: dict[str, str]) -> None:
    client = TestClient(create_app(client=object(), token="t0k"))  # type: ignore[arg-type]
    for method, path, body in GUARDED:
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 401, path
        assert answer.json()["detail"]["code"] == "unauthorized"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "t0k" not in answer.text
    assert client.get("/health").status_code == 200  # liveness stays open


def test_without_a_configured_token_one_is_generated_and_written_for_this_user_only(
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "state" / "orchestrator.token"
    create_app(OrchestratorSettings(token_file=token_file), client=object())  # type: ignore[arg-type]
    token = token_file.read_text()
    assert len(token) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    # the gateway's Docker backend finds it there
    assert DockerBackendSettings(orchestrator_token_file=token_file).token() == token
    create_app(OrchestratorSettings(token_file=token_file), client=object())  # type: ignore[arg-type]
    assert token_file.read_text() != token  # each start makes a new one


async def test_the_gateway_client_sends_the_token_and_names_a_refusal() -> None:
    app = create_app(client=object(), token="t0k")  # type: ignore[arg-type]
    app.state.manager = None
    transport = httpx.ASGITransport(app)
    async with ProvisionClient("http://o", transport=transport, token="wrong") as client:
        with pytest.raises(OrchestratorUnavailableError, match="refused the gateway's token"):
            await client.sync()
