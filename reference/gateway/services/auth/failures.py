"""Repeated failed authentication from one client address answers 429.

Each failure spends a token of the address's bucket (``burst`` failures, then
``rate`` per second); once it is empty the address is refused with 429 and
``Retry-After`` before its credentials are even looked at, which makes
guessing keys or tokens slow. Successful calls cost nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reference.gateway.core.errors import RateLimited
from reference.gateway.services.token_bucket import MemoryBuckets, Tier

__all__ = ["FailedAuthLimiter"]

_TIER = "auth_failures"


class FailedAuthLimiter:
    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets = MemoryBuckets({_TIER: Tier(rate, burst)}, clock=clock)
        self._clock = clock
        self._blocked: dict[str, float] = {}

    def check(self, client: str) -> None:
        """Raises 429 while ``client`` is blocked for failing too often."""
        until = self._blocked.get(client)
        if until is None:
            return
        now = self._clock()
        if now < until:
            raise _refusal(until - now)
        del self._blocked[client]

    async def failed(self, client: str) -> None:
        """Count a failure; raises 429 when it empties the bucket."""
        decision = await self._buckets.hit(_TIER, client)
        if decision.allowed:
            return
        now = self._clock()
        if len(self._blocked) > 4096:
            self._blocked = {c: t for c, t in self._blocked.items() if t > now}
        self._blocked[client] = now + decision.retry_after
        raise _refusal(decision.retry_after)


def _refusal(retry_after: float) -> RateLimited:
    return RateLimited(
        "too many failed authentication attempts from this address; wait and check the credentials",
        retry_after=retry_after,
    )
