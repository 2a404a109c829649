"""The one request body every gateway-benchmark server is sent.

Its own module so the benchmark (parent) and its load generator (child) share
it without importing each other.
"""

from __future__ import annotations

PAYLOAD = b'{"message":"hello from the benchmark","n":12345}'
