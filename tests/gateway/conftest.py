"""The ``make_gateway`` fixture: config files in tmp_path, the app driven through ASGI."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_helpers import GatewayFactory, gateway_factory


@pytest.fixture
def make_gateway(tmp_path: Path) -> GatewayFactory:
    """``async with make_gateway(functions=..., with_backend=..., auth=..., **settings) as gw:``.

    ``clock`` replaces the breakers' monotonic clock, so a test can pin breaker timing.
    """
    return gateway_factory(tmp_path)
