"""A request as the service layer sees it: no FastAPI types past this point."""

from __future__ import annotations

from dataclasses import dataclass, field


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
