"""The orchestrator app's error answers, over a fake manager (no Docker needed)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from reference.orchestrator.app import create_app
from reference.orchestrator.containers import ImageMissingError, ProvisionFailedError


class _FailingManager:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def provision(self, *_args: object) -> None:
        raise self.error

    async def ensure(self, *_args: object) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ImageMissingError("no image x"), 422, "image_missing"),
        (ProvisionFailedError("never ready"), 503, "provision_failed"),
    ],
)
def test_provision_and_ensure_map_engine_errors_the_same_way(
    error: Exception, status: int, code: str
) -> None:
    app = create_app(client=object(), token="unit-token")  # type: ignore[arg-type]
    app.state.manager = _FailingManager(error)
    client = TestClient(app, headers={"Authorization": "Bearer unit-token"})  # no lifespan
    for path, body in [
        ("/containers/provision", {"function": "f"}),
        ("/containers/ensure", {"function_name": "f"}),
    ]:
        answer = client.post(path, json=body)
        assert answer.status_code == status
        assert answer.json() == {"detail": {"code": code, "message": str(error)}}
