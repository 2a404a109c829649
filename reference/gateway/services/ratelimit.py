"""The rate limiter seam: the processor asks one :class:`RateLimiter` before every call.

A limiter raises :class:`~reference.gateway.core.errors.RateLimited` (429 with
``Retry-After``) to refuse a call. The factory wires :class:`NoRateLimit`
unless settings choose another implementation (an in-memory or Redis token
bucket per tier).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from reference.gateway.models import InputContext

__all__ = ["NoRateLimit", "RateLimiter"]


@runtime_checkable
class RateLimiter(Protocol):
    async def check(self, context: InputContext, function: str) -> None:
        """Return to let the call through; raise ``RateLimited`` to refuse it."""
        ...

    async def aclose(self) -> None:
        """Release connections (a Redis client, say)."""
        ...


class NoRateLimit:
    """Lets every call through."""

    async def check(self, context: InputContext, function: str) -> None:
        return None

    async def aclose(self) -> None:
        return None
