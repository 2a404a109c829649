"""gateproof's breaker suite on callbreaker: --breaker-impl callbreaker_adapter:make_breaker."""

from callbreaker import CircuitBreaker, CircuitOpenError

from gateproof.testing.breaker_adapter import breaker_adapter


@breaker_adapter(style="call", open_error=CircuitOpenError, clock="patched")
def make_breaker(spec, *, clock):
    return CircuitBreaker(fail_max=spec.failure_threshold, reset_timeout=spec.recovery_timeout)
