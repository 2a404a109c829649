"""What must hold after a chaos run, as lines a person can act on (none: it all held).

Killing workers under load may cost calls, but only in the gateway's own
terms: every failed call is a 502, 503 or 504 with the JSON error body and an
``X-Request-ID``, never a 500 or a dropped connection; and afterwards no
worker process or container is left and no pool holds more than its
``max_capacity``.
"""

from __future__ import annotations

from loadtests.results import LoadResult

__all__ = ["chaos_breaches"]


def chaos_breaches(result: LoadResult) -> list[str]:
    lines = [
        f"chaos guarantee broken: {count} x {kind} (first: {result.contract['examples'][kind]})"
        for kind, count in sorted(result.contract["broken"].items())
    ]
    after = result.after or {}
    lines += [f"left running after the run: {leftover}" for leftover in after.get("leftovers", [])]
    status = after.get("status")
    if result.target is not None and status is None:
        lines.append("the gateway's status could not be read after the run")
    for name, pool in (status or {}).get("pools", {}).items():
        if pool["total"] > pool["max_capacity"]:
            lines.append(
                f"pool {name} holds {pool['total']} workers after the run, "
                f"above its max_capacity {pool['max_capacity']}"
            )
    return lines
