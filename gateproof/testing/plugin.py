"""The pytest plugin gateproof registers (entry point ``pytest11``)."""
