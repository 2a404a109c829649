"""gateproof's breaker suite on recordbreaker: --breaker-impl recordbreaker_adapter:make_breaker."""

from recordbreaker import Breaker

from gateproof.testing.breaker_adapter import breaker_adapter

NAMES = {"allow": "can_execute", "record_success": "on_success", "record_failure": "on_failure"}


@breaker_adapter(methods=NAMES)
def make_breaker(spec, *, clock):
    return Breaker(
        threshold=spec.failure_threshold,
        cooldown=spec.recovery_timeout,
        probes=spec.half_open_max_calls,
        now=clock,
    )
