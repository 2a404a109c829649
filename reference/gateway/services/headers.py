"""Which headers cross the gateway, in each direction. One place for these rules.

To the worker go only the trace and context headers in :data:`FORWARDED`
(a whitelist, so hop-by-hop and credential headers never leak); back to the
client go the worker's headers minus :data:`HOP_BY_HOP` and the framing
headers the server recomputes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "FORWARDED",
    "HOP_BY_HOP",
    "forwarded_headers",
    "has_line_break",
    "strip_hop_by_hop",
]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_RECOMPUTED = frozenset({"content-length", "date", "server"})
_DROPPED = HOP_BY_HOP | _RECOMPUTED  # never returned to the client

FORWARDED = frozenset(
    {
        "content-type",
        "traceparent",
        "tracestate",
        "baggage",
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-amzn-trace-id",
        "x-request-id",
        "x-amz-client-context",
    }
)


def forwarded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers the worker may see (names lower-cased)."""
    return {name.lower(): value for name, value in headers.items() if name.lower() in FORWARDED}


def strip_hop_by_hop(headers: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Response headers without hop-by-hop ones, those named in ``Connection``, and framing.

    Names are lower-cased; a name that comes more than once keeps all its values,
    in order, as a list (sent back as one header line per value).
    """
    pairs = [(name.lower(), value) for name, value in headers]
    named = {
        token.strip().lower()
        for name, value in pairs
        if name == "connection"
        for token in value.split(",")
    }
    drop = _DROPPED | named
    kept: dict[str, str | list[str]] = {}
    for name, value in pairs:
        if name in drop:
            continue
        seen = kept.get(name)
        if seen is None:
            kept[name] = value
        elif isinstance(seen, list):
            seen.append(value)
        else:
            kept[name] = [seen, value]
    return kept


def has_line_break(value: str | bytes) -> bool:
    """True for a header name or value that could split a header (response splitting)."""
    if isinstance(value, bytes):
        return b"\r" in value or b"\n" in value or b"\x00" in value
    return "\r" in value or "\n" in value or "\x00" in value
