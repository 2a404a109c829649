"""A request as the service layer sees it: no FastAPI types past this point."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference.gateway.core.timing import CallTiming
from reference.gateway.models.identity import Identity


@dataclass
class InputContext:
    path: str
    method: str
    headers: dict[str, str]
    query_params: dict[str, str]
    body: bytes
    user_id: str | None
    request_id: str
    path_params: dict[str, str] = field(default_factory=dict)
    client: str | None = None  # the peer address: the bucket of anonymous callers
    identity: Identity | None = None  # set by the authenticator, never from a header
    timing: CallTiming | None = None  # where the call's time goes (Server-Timing), if measured
