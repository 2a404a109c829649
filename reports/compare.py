"""What changed between two phase reports: coverage per module, flakiness, checks that flipped."""

from __future__ import annotations

from typing import Any

from reports.audit_markdown import pct, table


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 1)


def flipped_checks(
    before: list[dict[str, Any]], after: list[dict[str, Any]], *, absent: bool = True
) -> list[dict[str, Any]]:
    """Checks whose verdict differs between two reports; ``absent=False`` keeps those in both."""
    checks_a = {c["id"]: c for c in before}
    checks_b = {c["id"]: c for c in after}
    ids = [*checks_a, *(c for c in checks_b if c not in checks_a)]
    if not absent:
        ids = [cid for cid in ids if cid in checks_a and cid in checks_b]
    return [
        {
            "id": cid,
            "title": (checks_b.get(cid) or checks_a[cid])["title"],
            "before": checks_a.get(cid, {}).get("verdict", "absent"),
            "after": checks_b.get(cid, {}).get("verdict", "absent"),
        }
        for cid in ids
        if checks_a.get(cid, {}).get("verdict") != checks_b.get(cid, {}).get("verdict")
    ]


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Differences from report ``a`` to report ``b`` (positive deltas: ``b`` is higher)."""
    mods_a = {m["module"]: m for m in a["coverage"]["modules"]}
    mods_b = {m["module"]: m for m in b["coverage"]["modules"]}
    coverage = [
        {
            "module": name,
            "before": mods_a.get(name, {}).get("line_percent"),
            "after": mods_b.get(name, {}).get("line_percent"),
            "delta": _delta(
                mods_a.get(name, {}).get("line_percent"), mods_b.get(name, {}).get("line_percent")
            ),
        }
        for name in sorted(set(mods_a) | set(mods_b))
    ]
    flaky_a = {(f["check"], f["nodeid"]): f for f in a["flakiness"]}
    flaky_b = {(f["check"], f["nodeid"]): f for f in b["flakiness"]}
    flakiness = [
        {
            "check": key[0],
            "nodeid": key[1],
            "failed_before": flaky_a.get(key, {}).get("failed"),
            "failed_after": flaky_b.get(key, {}).get("failed"),
            "bound_before": flaky_a.get(key, {}).get("upper_bound_95"),
            "bound_after": flaky_b.get(key, {}).get("upper_bound_95"),
        }
        for key in sorted(set(flaky_a) | set(flaky_b))
        if flaky_a.get(key, {}).get("failed") != flaky_b.get(key, {}).get("failed")
    ]
    flipped = flipped_checks(a["checks"], b["checks"])
    return {
        "a": {
            "phase": a["phase"],
            "target": a["target"],
            "verdict": a["verdict"],
            "generated_at": a["generated_at"],
        },
        "b": {
            "phase": b["phase"],
            "target": b["target"],
            "verdict": b["verdict"],
            "generated_at": b["generated_at"],
        },
        "total_line_delta": _delta(a["coverage"]["line_percent"], b["coverage"]["line_percent"]),
        "coverage": coverage,
        "flakiness": flakiness,
        "flipped": flipped,
    }


def compare_markdown(diff: dict[str, Any]) -> str:
    a, b = diff["a"], diff["b"]
    lines = [
        f"# Phase {a['phase']} on {a['target']} ({a['verdict']}) -> "
        f"phase {b['phase']} on {b['target']} ({b['verdict']})",
        "",
        f"Total line coverage change: {diff['total_line_delta']:+.1f} points."
        if diff["total_line_delta"] is not None
        else "Total line coverage: not measured in both.",
        "",
        "## Checks that flipped",
        "",
    ]
    if diff["flipped"]:
        lines += table(
            ["check", "before", "after"],
            [[f"{f['title']} (`{f['id']}`)", f["before"], f["after"]] for f in diff["flipped"]],
        )
    else:
        lines.append("None.")
    lines += ["", "## Coverage per module", ""]
    lines += table(
        ["module", "before", "after", "delta"],
        [
            [
                f"`{c['module']}`",
                pct(c["before"]),
                pct(c["after"]),
                "-" if c["delta"] is None else f"{c['delta']:+.1f}",
            ]
            for c in diff["coverage"]
        ],
    )
    lines += ["", "## Flakiness: tests whose failures changed", ""]
    if diff["flakiness"]:
        lines += table(
            ["check", "test", "failed before", "failed after"],
            [
                [f["check"], f"`{f['nodeid']}`", f["failed_before"], f["failed_after"]]
                for f in diff["flakiness"]
            ],
        )
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"
