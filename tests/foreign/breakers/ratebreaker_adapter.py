"""gateproof's breaker suite on ratebreaker: --breaker-impl ratebreaker_adapter:make_breaker."""

from ratebreaker import RateBreaker

from gateproof.testing.breaker_adapter import breaker_adapter


@breaker_adapter()
def make_breaker(spec, *, clock):
    # failure_threshold failures out of failure_threshold calls: a rate of 1 from a clean start
    return RateBreaker(1.0, spec.failure_threshold, spec.recovery_timeout, clock)
