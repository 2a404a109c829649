"""Reading a W3C ``Server-Timing`` header: what the target says each call's time went to.

Why here: ``gateproof load`` records the split whenever the target sends it
(the reference gateway always does, see ``reference.gateway.core.timing``; a
user's gateway may), and calibration prefers it to guessing from latencies.
The syntax is the W3C Server Timing one: entries separated by commas, each a
name with optional ``;dur=`` (milliseconds) and ``;desc=`` parameters. An
entry without ``dur`` says nothing about time and is skipped, as is anything
that does not parse; a header never fails a call.
"""

from __future__ import annotations

__all__ = ["MAX_NAMES", "parse_server_timing"]

MAX_NAMES = 16  # names kept per header: a target cannot make the tally grow without bound


def parse_server_timing(value: str | None) -> dict[str, float]:
    """``{name: seconds}`` from a header value; the first entry of a name wins."""
    found: dict[str, float] = {}
    if not value:
        return found
    for entry in value.split(","):
        name, *params = entry.split(";")
        name = name.strip()
        if not name or name in found or len(found) >= MAX_NAMES:
            continue
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() != "dur":
                continue
            try:
                ms = float(raw.strip().strip('"'))
            except ValueError:
                break
            if ms >= 0 and ms == ms and ms != float("inf"):
                found[name] = ms / 1000
            break
    return found
