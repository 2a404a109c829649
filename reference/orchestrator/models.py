"""The orchestrator's HTTP contract: what the gateway's clients send and receive."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EnsureRequest",
    "EnsureResponse",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "ProvisionRequest",
    "ProvisionResponse",
    "SyncResponse",
    "Worker",
]

FUNCTION_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class Worker(BaseModel):
    """One running container, reachable at ``http://{host}:{port}``."""

    id: str
    name: str
    function: str
    image: str
    host: str
    port: int


class ProvisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function: str = Field(pattern=FUNCTION_NAME)
    count: int = Field(default=1, ge=1)
    image: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class ProvisionResponse(BaseModel):
    workers: list[Worker]


class EnsureRequest(BaseModel):
    """Seed 004's contract: one running worker for a function, started if none runs."""

    function_name: str = Field(pattern=FUNCTION_NAME)
    image: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class EnsureResponse(BaseModel):
    host: str
    port: int
    id: str


class HeartbeatRequest(BaseModel):
    ids: list[str]


class HeartbeatResponse(BaseModel):
    alive: list[str]
    missing: list[str]


class SyncResponse(BaseModel):
    workers: list[Worker]
