"""The orchestrator's settings, from the environment (prefix ``GATEPROOF_ORCHESTRATOR_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_TOKEN_FILE", "LABEL", "OrchestratorSettings"]

# where an orchestrator with no configured token writes the one it generates, and where
# the gateway's Docker backend looks for it: the same user on the same machine
DEFAULT_TOKEN_FILE = Path.home() / ".gateproof" / "orchestrator.token"

LABEL = "org.gateproof.orchestrator"  # its value is the instance name
FUNCTION_LABEL = "org.gateproof.function"


class OrchestratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEPROOF_ORCHESTRATOR_", frozen=True)

    instance: str = Field(
        default="gateproof",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Value of the label on every container it makes; it only ever "
        "removes containers carrying this label and value.",
    )
    extra_labels: dict[str, str] = Field(
        default_factory=dict,
        description="More labels for every container (JSON), e.g. to let a test suite find them.",
    )
    default_image: str = "gateproof/runtime:latest"
    container_port: int = Field(default=8080, ge=1, le=65535)
    publish_host: str = Field(
        default="127.0.0.1", description="Where container ports are published: loopback only."
    )
    ready_path: str = "/health"
    ready_timeout: float = Field(default=20.0, gt=0, description="Seconds a container may take.")
    idle_timeout: float = Field(
        default=600.0, gt=0, description="Containers without a heartbeat this long are removed."
    )
    reap_interval: float = Field(default=5.0, gt=0)
    max_batch: int = Field(default=32, ge=1, description="Most containers per provision call.")
    token: SecretStr | None = Field(
        default=None,
        description="The bearer token callers must send; generated at start when unset.",
    )
    token_file: Path = Field(
        default=DEFAULT_TOKEN_FILE,
        description="Where a generated token is written (mode 0600) for the gateway to read.",
    )
