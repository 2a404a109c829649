"""Who is calling: what an authenticator makes of a request's credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Identity"]


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller the gateway has verified.

    ``kind`` keeps user credentials and worker tokens apart: a route for one
    never accepts the other. ``tier`` picks the caller's rate-limit bucket
    shape and which functions they may call.
    """

    subject: str
    tier: str | None = None
    kind: Literal["user", "worker"] = "user"
