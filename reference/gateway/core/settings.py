"""The gateway's settings, read from the environment (prefix ``GATEPROOF_``).

``GATEPROOF_BACKEND=inprocess`` and ``GATEPROOF_FUNCTIONS_FILE=...``, for
example; nested breaker settings use ``__``:
``GATEPROOF_BREAKER__RECOVERY_TIMEOUT=5``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference.gateway.core.breaker import BreakerConfig

__all__ = ["CONFIG_DIR", "GatewaySettings"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class GatewaySettings(BaseSettings):
    """Everything the factory needs to build a gateway."""

    model_config = SettingsConfigDict(
        env_prefix="GATEPROOF_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    backend: str = Field(
        default="process", description="Where workers run: process, inprocess (later docker)."
    )
    functions_file: Path = CONFIG_DIR / "functions.yml"
    routing_file: Path = CONFIG_DIR / "routing.yml"
    worker_ready_timeout: float = Field(
        default=10.0, gt=0, description="Longest wait for a new worker process to serve."
    )
    prune_interval: float = Field(
        default=30.0, gt=0, description="Seconds between sweeps for workers past idle_timeout."
    )
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1)
    max_header_line_bytes: int = Field(
        default=8 * 1024,
        ge=64,
        description="Longest request header line (name, ': ' and value); 431 beyond.",
    )
    max_header_bytes: int = Field(
        default=32 * 1024,
        ge=64,
        description="All request header lines together (each counted as above); 431 beyond.",
    )
    max_headers: int = Field(default=100, ge=1, description="Most request headers; 431 beyond.")
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    max_background_invocations: int = Field(
        default=64, ge=1, description="Event (async) invocations running at once; 503 beyond."
    )
    no_capacity_retry_after: float = Field(default=1.0, gt=0)
    max_connections_per_client: int = Field(default=256, ge=1)
    access_log: bool = True
    framework_telemetry: bool = Field(
        default=False,
        description="FastAPI's own OpenTelemetry spans, metrics and logs per request, when an "
        "OpenTelemetry provider is configured. Off: the gateway reports through /metrics and "
        "its access log, and FastAPI's check for a provider (about 6 us per request, made even "
        "when none is configured) stays off the hot path.",
    )
