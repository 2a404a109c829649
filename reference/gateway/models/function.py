"""What a function is: its image, environment, pool limits and time limit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reference.gateway.models.scaling import ScalingConfig

FUNCTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

# who may call: anyone, an authenticated user, or an internal caller with a worker token
Access = Literal["public", "user", "worker"]


class FunctionEntity(BaseModel):
    """One function as `functions.yml` declares it, after `defaults:` are merged in.

    ``environment`` is passed to the worker; the reference runtime reads
    ``GATEPROOF_FUNCTION`` from it to pick its built-in handler.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=FUNCTION_NAME_PATTERN)
    image: str = "gateproof/runtime:latest"
    environment: dict[str, str] = Field(default_factory=dict)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    timeout_seconds: float = Field(default=300, gt=0)
    auth: Access | None = Field(
        default=None, description="who may call (default: the gateway's GATEPROOF_AUTH_DEFAULT)"
    )
    tiers: list[str] | None = Field(
        default=None, description="the user tiers allowed to call; absent: every tier"
    )
