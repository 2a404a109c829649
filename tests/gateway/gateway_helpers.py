"""Helpers shared by the gateway's HTTP-level tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from reference.gateway.core.factory import ServiceContainer

FUNCTIONS = """
defaults:
  timeout_seconds: 5
  scaling: {max_capacity: 2, acquire_timeout: 2}
functions:
  echo: {environment: {GATEPROOF_FUNCTION: echo}}
  sleep: {environment: {GATEPROOF_FUNCTION: sleep}, timeout_seconds: 0.5}
  fail: {environment: {GATEPROOF_FUNCTION: fail}}
"""

ROUTING = """
routes:
  - {path: /echo, method: POST, function: echo}
  - {path: "/items/{id}", method: GET, function: echo}
  - {path: /fail, method: POST, function: fail}
"""


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient
    container: ServiceContainer

    def ledger_is_consistent(self) -> bool:
        """No worker left busy, provisioning or awaited; no pool above its limit."""
        return all(
            s.busy == 0 and s.provisioning == 0 and s.waiting == 0 and s.total <= s.max_capacity
            for s in self.container.pool_stats().values()
        )


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"code", "message"}, body
    return body["code"]


def invoke_url(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def dumps(value: object) -> bytes:
    return json.dumps(value).encode()
