"""The outcome of one invocation, whatever happened on the way."""

from __future__ import annotations

from dataclasses import dataclass, field

RETRYABLE_STATUS = frozenset({502, 503})


@dataclass(frozen=True)
class InvocationResult:
    """What the processor hands back to the presentation layer.

    ``error`` keeps the exception (if any) for logs; the response is built from
    ``status_code``, ``payload`` and ``headers`` only. A header whose value is a
    list goes out as one header line per value. ``retries`` counts the times the
    call was sent again because its request never reached a worker.
    """

    success: bool
    status_code: int
    payload: bytes | None
    headers: dict[str, str | list[str]] = field(default_factory=dict)
    error: Exception | None = None
    retries: int = 0

    @property
    def is_retryable(self) -> bool:
        """True when a retry may succeed: 502, 503, or the worker could not be reached."""
        return self.status_code in RETRYABLE_STATUS or isinstance(self.error, ConnectionError)
