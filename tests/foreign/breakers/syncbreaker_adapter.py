"""gateproof's breaker suite on syncbreaker: --breaker-impl syncbreaker_adapter:make_breaker."""

from syncbreaker import BreakerOpen, SyncBreaker

from gateproof.testing.breaker_adapter import breaker_adapter


@breaker_adapter(style="call", open_error=BreakerOpen, clock="patched")
def make_breaker(spec, *, clock):
    return SyncBreaker(spec.failure_threshold, spec.recovery_timeout)
