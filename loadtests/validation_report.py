"""`validate`'s outputs: ``validation.md`` (ratios per utilisation) and ``validation.png``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["format_validation", "plot_validation"]


def _value(kind: str, value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 1000:.1f} ms" if kind == "latency" else f"{value:.2%}"


def _interval(kind: str, pair: list[float] | None) -> str:
    if not pair or any(math.isnan(v) for v in pair):
        return "-"
    return f"[{_value(kind, pair[0])}, {_value(kind, pair[1])}]"


def _error(kind: str, error: float) -> str:
    if math.isnan(error):
        return "-"
    return f"{error:+.1%}" if kind == "latency" else f"{error * 100:+.2f} pp"


def format_validation(data: dict[str, Any]) -> str:
    """The verdict, the calibration, and per utilisation and function a row per figure."""
    targets = data["targets"]
    lines = [
        f"# Validation of {data['scenario']} against {data['target']}",
        "",
        f"Verdict: **{data['verdict']}** (targets: mean within {targets['mean']:.0%}, p99 "
        f"within {targets['p99']:.0%}, timeout rate within {targets['timeout_rate'] * 100:g} "
        f"points).",
        "",
        "Calibration:",
        "",
    ]
    for c in data["calibration"]:
        lines.append(
            f"- {c['function']} ({c['method']}): overhead {c['overhead_kind']} {c['overhead']}, "
            f"hold_overhead {c['hold_overhead_kind'] or 'not measured'} {c['hold_overhead'] or ''}"
        )
    lines += [
        "",
        "| u | function | figure | predicted [95% replications] | measured [95% batch means] "
        "| measured / predicted | error | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for point in data["points"]:
        u = point["utilisation"]
        for name, entry in point["functions"].items():
            for figure, row in entry["figures"].items():
                kind = "rate" if figure.endswith("rate") else "latency"
                if row["verdict"] == "not measured":
                    lines.append(f"| {u:g} | {name} | {figure} | - | - | - | - | not measured |")
                    continue
                ratio = row["measured"] / row["predicted"] if row["predicted"] else math.nan
                lines.append(
                    f"| {u:g} | {name} | {figure} | {_value(kind, row['predicted'])} "
                    f"{_interval(kind, row['predicted_interval'])} | "
                    f"{_value(kind, row['measured'])} {_interval(kind, row['measured_interval'])}"
                    f" | {'-' if math.isnan(ratio) else f'{ratio:.2f}'} | "
                    f"{_error(kind, row['error'])} | {row['verdict']} |"
                )
                if row["verdict"] != "agrees" and row.get("one_run_interval"):
                    low, high = row["one_run_interval"]
                    where = "inside" if row["inside_one_run"] else "outside"
                    notes.append(
                        f"- u {u:g}, {name} {figure}: the model's own spread for one run this "
                        f"long is {_value(kind, low)} to {_value(kind, high)}; the measured "
                        f"{_value(kind, row['measured'])} lies {where} it"
                    )
                if row.get("run_seconds_needed"):
                    notes.append(
                        f"- u {u:g}, {name} {figure}: the measured interval alone is wider than "
                        f"the target; a run of about {row['run_seconds_needed']:.0f} s measured "
                        f"would narrow it to the target"
                    )
            check = entry.get("batch_means")
            if check and any(
                entry["figures"][f]["verdict"] not in ("agrees", "not measured")
                for f in ("mean", "p99")
                if f in entry["figures"]
            ):
                low, high = check["model_range"]
                notes.append(
                    f"- u {u:g}, {name}: its {len(check['measured'])} batch means of latency "
                    f"({_value('latency', min(check['measured']))} to "
                    f"{_value('latency', max(check['measured']))}) against the model's "
                    f"{check['model_batches']} of the same length ({_value('latency', low)} to "
                    f"{_value('latency', high)}): two-sample KS p = {check['p_value']:.2f}, "
                    + ("consistent with the model" if check["consistent"]
                       else "unlikely under the model")
                )  # fmt: skip
            if any(r["verdict"] == "disagrees" for r in entry["figures"].values()):
                notes += _missed_parts(u, name, entry["components"])
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def _missed_parts(u: float, name: str, parts: dict[str, dict[str, float]]) -> list[str]:
    """The part of the call the model misses, as a cause: the hold (utilisation) or outside.

    Queueing is the effect of a missed hold near saturation, so it is given beside it. A
    missed hold is weighed by how queueing amplifies it, 1 / (1 - utilisation it implies);
    time outside the worker adds to latency once.
    """
    causes = {k: v for k, v in parts.items() if k != "queue"}
    if not causes:
        return []

    def weight(item: tuple[str, dict[str, float]]) -> float:
        part, sizes = item
        if part != "hold" or sizes["model"] <= 0:
            return abs(sizes["missed"])
        implied = min(u * sizes["measured"] / sizes["model"], 0.99)
        return abs(sizes["missed"]) / (1 - implied)

    part, worst = max(causes.items(), key=weight)
    line = (
        f"- u {u:g}, {name}: the model misses most on `{part}`: measured mean "
        f"{worst['measured'] * 1000:.2f} ms, model {worst['model'] * 1000:.2f} ms "
        f"({worst['missed'] * 1000:+.2f} ms)"
    )
    if part == "hold" and worst["model"] > 0:
        line += f", so the pool ran at utilisation {u * worst['measured'] / worst['model']:.2f}"
    queue = parts.get("queue")
    if queue is not None:
        line += (
            f"; queueing followed: measured {queue['measured'] * 1000:.1f} ms, "
            f"model {queue['model'] * 1000:.1f} ms"
        )
    return [line]


def plot_validation(data: dict[str, Any], path: Path) -> Path:
    """Predicted and measured p99 and timeout rate against utilisation, with their intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    names = sorted({name for point in data["points"] for name in point["functions"]})
    panels = (
        (axes[0], "p99", 1000, "p99 (ms)"),
        (axes[1], "timeout_rate", 100, "timeout rate (%)"),
    )
    for ax, key, scale, label in panels:
        for name in names:
            us, pred, plow, phigh, meas, merr = [], [], [], [], [], []
            for point in data["points"]:
                row = point["functions"].get(name, {}).get("figures", {}).get(key)
                if not row or row["verdict"] == "not measured":
                    continue
                us.append(point["utilisation"])
                pred.append(row["predicted"] * scale)
                plow.append(row["predicted_interval"][0] * scale)
                phigh.append(row["predicted_interval"][1] * scale)
                meas.append(row["measured"] * scale)
                interval = row["measured_interval"]
                merr.append((interval[1] - interval[0]) / 2 * scale if interval else 0.0)
            if not us:
                continue
            ax.plot(us, pred, marker="o", label=f"{name} predicted")
            ax.fill_between(us, plow, phigh, alpha=0.2)
            ax.errorbar(us, meas, yerr=merr, marker="s", capsize=3, label=f"{name} measured")
        ax.set_xlabel("utilisation (calibrated: service + hold)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title(
        "p99: predicted (band: 95% replications) and measured (bars: 95% batch means)"
    )
    axes[0].title.set_fontsize(8)
    axes[1].set_title("timeout rate")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
