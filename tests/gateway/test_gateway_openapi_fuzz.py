"""Schemathesis against the gateway's own OpenAPI schema, in-process.

Whatever the generated request, the gateway answers with a documented status:
never a 5xx other than 502/503/504, every error as ``{"code", "message"}``,
and always an ``X-Request-ID``. Bounded to a few examples per operation so it
runs in seconds.
"""

from __future__ import annotations

import json

import schemathesis
from hypothesis import HealthCheck, settings

from reference.gateway.core.settings import GatewaySettings
from reference.gateway.main import create_app

DOCUMENTED_5XX = {502, 503, 504}

app = create_app(GatewaySettings(backend="inprocess", access_log=False))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_undocumented_server_error_and_every_error_is_json(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500 or response.status_code in DOCUMENTED_5XX, response.text
    assert response.headers.get("x-request-id")
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert set(body) == {"code", "message"}, body
        assert "Traceback" not in body["message"]
