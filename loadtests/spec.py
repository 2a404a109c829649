"""What the runner tells the Locust processes: one JSON object in one environment variable.

The Locust processes load the scenario themselves (through :mod:`scenarios`,
with the same ``--set`` overrides), so a worker on another machine needs the
scenario file and this object, nothing else. Secrets are never in it: the
bearer token is named by its environment variable and read where it is used.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from loadtests.plan import LoadPlan
from scenarios import Scenario, load_scenario

__all__ = ["ENV_VAR", "RunSpec"]

ENV_VAR = "GATEPROOF_LOAD_SPEC"


@dataclass(frozen=True)
class RunSpec:
    scenario: str
    overrides: list[str] = field(default_factory=list)
    inject: bool = False  # the reference gateway: send each call's behaviour
    headers: dict[str, str] = field(default_factory=dict)
    token_env: str | None = None
    credentials: str | None = None  # a file read by each Locust process (loadtests.credentials)
    tally_path: str | None = None  # where the master (or the only process) writes its tally
    seed: int = 0
    max_users: int | None = None
    ca_cert: str | None = None  # https: verify against this CA bundle (an absolute path)
    insecure: bool = False  # https: no verification at all

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> RunSpec:
        text = os.environ.get(ENV_VAR)
        if not text:
            raise RuntimeError(
                f"{ENV_VAR} is not set: start Locust through `gateproof load`, which sets it"
            )
        return cls(**json.loads(text))

    def load(self) -> Scenario:
        return load_scenario(self.scenario, self.overrides)

    def plan(self) -> LoadPlan:
        return LoadPlan(self.load(), inject=self.inject, user_cap=self.max_users)

    def request_headers(self) -> dict[str, str]:
        """Headers for every request: ``--header`` values, then the bearer token if named."""
        headers = {"Content-Type": "application/json", **self.headers}
        if self.token_env:
            token = os.environ.get(self.token_env, "")
            if token:
                headers["Authorization"] = f"Bearer {token}"
        return headers
