"""Where one call's time went, sent as a W3C ``Server-Timing`` header and logged.

Why: capacity is decided near saturation, where a call's latency is mostly
waiting for a worker, and a worker's utilisation counts every millisecond it
is held, not only the function's own run. A client (``gateproof load``) or a
capacity model can only tell these apart if the gateway says so per call.

The names, every duration in milliseconds (``Server-Timing: queue;dur=0.012,
hold;dur=10.950, svc;dur=10.000, gw;dur=0.410``):

``queue``
    waiting for a worker: from asking the pool to getting one (or giving up);
``hold``
    the worker held: from getting it to handing it back (released or evicted);
``svc``
    of ``hold``, the worker's own service time as the worker reported it (the
    reference runtime's ``slept_ms`` or ``cpu_ms``); ``hold - svc`` is the
    exchange with the worker (request, transport, answer, release);
``gw``
    the gateway's own time outside the worker: the response's start minus the
    request's arrival, less ``queue`` and ``hold``.

A name is left out when the call did not reach that part (a 404 sends ``gw``
alone; a call whose worker reports nothing sends no ``svc``). The access log
carries the same values as ``queue_ms``, ``hold_ms``, ``svc_ms`` and ``gw_ms``
(null when left out). The cost is two clock reads per stage and one header;
``gateproof bench gateway --breakdown`` measures it (switch ``server-timing``).
"""

from __future__ import annotations

__all__ = ["SERVER_TIMING_NAMES", "CallTiming", "reported_service"]

SERVER_TIMING_NAMES = ("queue", "hold", "svc", "gw")

# how the reference runtime reports its own time: the first field of its JSON answer
_REPORTS = (b'{"slept_ms":', b'{"cpu_ms":')


class CallTiming:
    """The split of one call, in seconds; ``None`` where the call did not get that far."""

    __slots__ = ("gw", "hold", "queue", "svc")

    def __init__(self) -> None:
        self.queue: float | None = None
        self.hold: float | None = None
        self.svc: float | None = None
        self.gw: float | None = None

    def close(self, total: float) -> bytes:
        """Set ``gw`` from the call's ``total`` so far; the ``Server-Timing`` value."""
        gw = total - (self.queue or 0.0) - (self.hold or 0.0)
        self.gw = gw if gw > 0.0 else 0.0
        parts = []
        for name in SERVER_TIMING_NAMES:
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name};dur={value * 1000:.3f}")
        return ", ".join(parts).encode("ascii")

    def milliseconds(self) -> tuple[float | None, float | None, float | None, float | None]:
        """``queue``, ``hold``, ``svc``, ``gw`` in ms, rounded as the header writes them."""
        return (_ms(self.queue), _ms(self.hold), _ms(self.svc), _ms(self.gw))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def reported_service(body: bytes) -> float | None:
    """The worker's own time in seconds, when its answer reports it (the reference runtime's).

    Only the first field of a compact JSON object is looked at, without decoding the body:
    the gateway is a proxy and must not pay for parsing every answer.
    """
    if body[:2] != b'{"':
        return None
    for prefix in _REPORTS:
        if body.startswith(prefix):
            start = len(prefix)
            end = body.find(b",", start)
            if end < 0:
                end = body.find(b"}", start)
            try:
                value = float(body[start:end])
            except ValueError:
                return None
            return value / 1000 if value >= 0 else None
    return None
