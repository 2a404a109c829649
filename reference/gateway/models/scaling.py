"""How many workers one function may have, and how long callers wait for one.

This is the single definition of a pool's configuration: the gateway's function
registry, the scenarios the simulator reads and the stress suites all use this
type, so a scenario's pool config *is* the gateway's config.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScalingConfig(BaseModel):
    """Pool limits for one function (times in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_capacity: int = Field(default=5, ge=1, le=10_000, description="Most workers at once.")
    min_capacity: int = Field(default=0, ge=0, description="Workers kept warm.")
    acquire_timeout: float = Field(
        default=5.0, gt=0, description="Longest wait for a worker, cold start included."
    )
    idle_timeout: float = Field(
        default=300.0, gt=0, description="Idle time after which a worker may be pruned."
    )

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if self.min_capacity > self.max_capacity:
            raise ValueError(
                f"min_capacity ({self.min_capacity}) must not exceed "
                f"max_capacity ({self.max_capacity})"
            )
        return self
