"""Test-time helpers gateproof ships to any pytest tree (loaded as a pytest plugin)."""
