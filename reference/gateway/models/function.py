"""What a function is: its image, environment, pool limits and time limit."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from reference.gateway.models.scaling import ScalingConfig

FUNCTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


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
