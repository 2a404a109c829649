"""gateproof: a test harness and capacity simulator around a reference gateway."""

__version__ = "0.1.0"
