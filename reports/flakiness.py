"""The flakiness report of a repeated pytest run: per test counts, bounds and signatures.

`gateproof stress` feeds it the JSON lines of :mod:`reports.collector` and
writes ``flakiness.json`` and ``flakiness.md``. The JSON field names are an
interface (CI jobs and later reports read them):

Top level
    ``verdict`` (one sentence), ``passed_all`` (every run of every test passed
    and the run is complete), ``complete`` (pytest finished the whole
    selection: false after Ctrl-C, a crash, collection errors or ``-x``),
    ``consecutive_passes`` (repetitions 1..K of every test passed),
    ``upper_bound_95`` (the largest per-test bound: the flake rate of every
    test is below it at 95% confidence), ``totals`` (``runs``, ``passed``,
    ``failed``, ``errors``, ``skipped``), ``expected_runs``, ``wall_seconds``,
    ``seed`` (``requested`` by ``--seed``; ``hypothesis``, null when Hypothesis
    drew its own; ``shuffle``, the shuffled loop's seed, given or drawn, null
    when the loop was not shuffled), ``command`` (the pytest command line),
    ``pytest_exit_code``, ``count``, ``workers``, ``paths``,
    ``gateproof_version``, ``started_at``, ``collection_errors``
    (``nodeid``, ``message``), ``tests``, ``lost_runs`` (expected runs with no
    result; null when the expected number is unknown), ``lost_because`` (why,
    null when none were lost), ``restarts`` (one per new pytest started after a
    crash: ``after_runs``, ``because``, ``left``), ``virtual_time`` (``tests``
    that ran on virtual time, ``real_time_tests`` that ran on gateproof's loop
    with the real clock, ``virtual_seconds`` of timer waits skipped,
    ``real_waits`` that kept real time because real I/O was pending),
    ``exploration`` (null unless ``--explore``: ``strategy``,
    ``schedules_per_test``, ``runs``, ``distinct_schedules``, and for ``pct``
    ``depth`` and ``pct_bound``, the least probability, over the weakest
    test's runs, of finding a bug of depth <= d).
Per test (``tests``, failing tests first)
    ``nodeid`` (pytest-repeat's ``I-N`` removed, the user's parameters kept),
    ``runs``, ``passed``, ``failed`` (the test body failed), ``errors`` (a
    fixture's setup or teardown failed), ``skipped`` (skips and xfails),
    ``flake_rate`` ((failed + errors) / non-skipped runs; null if every run
    was skipped), ``upper_bound_95`` (exact one-sided Clopper-Pearson bound
    on the failure probability), ``consecutive_passes``, ``seconds`` (time
    spent in the test over all its runs: what to trim when the run is too
    slow), ``clock`` (``virtual``, ``real``, ``mixed``, or null when no run
    was on gateproof's loop), ``virtual_seconds``, ``real_waits``,
    ``exploration`` (under ``--explore``: ``strategy``, ``runs``,
    ``distinct_schedules``, ``tasks``, ``steps``, and for ``pct`` ``depth``,
    ``pct_bound_per_run``, ``pct_bound``) and ``signatures``:
    one per exception type and location, most frequent first, with
    ``type``, ``location`` (``file:line``), ``phases``, ``count`` and one
    example ``message``; ``failed_runs`` (the first failing repetitions, with
    their own ``nodeid``, ``repetition`` and the ``replay`` command that runs
    that one repetition again on the same schedule).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.binomial import upper_bound
from reports.nodeid import repetition, test_of

CONFIDENCE = 0.95
_LISTED_IN_VERDICT = 5
_FAILED_RUNS_KEPT = 20


@dataclass
class _Run:
    """One repetition of one concrete test item, assembled from its phase reports."""

    nodeid: str
    phases: dict[str, str] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    finished: bool = False
    seconds: float = 0.0
    loop: dict[str, Any] | None = None  # what gateproof's loop did, when the test ran on it

    def outcome(self) -> str | None:
        """passed, failed, error or skipped; None for a run cut off before its result."""
        if self.phases.get("call") == "failed" or self.phases.get("???") == "failed":
            return "failed"
        if "failed" in self.phases.values():
            return "error"
        if not self.finished and "call" not in self.phases:
            return None
        if "skipped" in self.phases.values():
            return "skipped"
        return "passed" if self.phases.get("call") == "passed" else None


def assemble_runs(records: Iterable[Mapping[str, Any]]) -> list[_Run]:
    """Turn phase reports into runs: a ``setup`` report starts a new run of its node id."""
    runs: list[_Run] = []
    open_runs: dict[str, _Run] = {}
    for record in records:
        if record.get("event") != "report":
            continue
        nodeid, when = record["nodeid"], record["when"]
        run = open_runs.get(nodeid)
        if when == "setup" or run is None or run.finished:
            run = _Run(nodeid)
            open_runs[nodeid] = run
            runs.append(run)
        # pytest reports an xfail as skipped and an xpass as passed: both are kept as reported
        run.phases[when] = record["outcome"]
        run.seconds += float(record.get("duration") or 0.0)
        if record.get("failure"):
            run.failures.append({**record["failure"], "phase": when})
        if isinstance(record.get("loop"), dict):
            run.loop = record["loop"]
        if when in ("teardown", "???"):
            run.finished = True
    return runs


def _signatures(failures: list[dict[str, str]]) -> list[dict[str, Any]]:
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    phases: dict[tuple[str, str], set[str]] = {}
    for failure in failures:
        key = (failure.get("type", "Error"), failure.get("location", "?"))
        counts[key] += 1
        examples.setdefault(key, failure.get("message", ""))
        phases.setdefault(key, set()).add(failure.get("phase", "call"))
    return [
        {
            "type": kind,
            "location": location,
            "phases": sorted(phases[(kind, location)]),
            "count": count,
            "message": examples[(kind, location)],
        }
        for (kind, location), count in counts.most_common()
    ]


def _consecutive(outcomes: list[tuple[int, str]]) -> int:
    """Passes in repetition order before the first failure or error (skips are neutral)."""
    streak = 0
    for _, outcome in sorted(outcomes, key=lambda item: item[0]):
        if outcome in ("failed", "error"):
            break
        streak += outcome == "passed"
    return streak


def summarize_tests(
    runs: Iterable[_Run], count: int, replay: Callable[[str], str] | None = None
) -> list[dict[str, Any]]:
    """Per test statistics, grouping the repetitions of each test.

    ``replay`` gives the command that reruns one repetition (by its full node id).
    """
    repeated = count > 1
    grouped: dict[str, list[tuple[int, str, _Run]]] = {}
    for arrival, run in enumerate(runs):
        outcome = run.outcome()
        if outcome is None:
            continue
        index = repetition(run.nodeid, repeated) or arrival + 1
        grouped.setdefault(test_of(run.nodeid, repeated), []).append((index, outcome, run))
    tests = []
    for nodeid, items in grouped.items():
        tally = Counter(outcome for _, outcome, _ in items)
        bad = tally["failed"] + tally["error"]
        trials = len(items) - tally["skipped"]
        tests.append(
            {
                "nodeid": nodeid,
                "runs": len(items),
                "passed": tally["passed"],
                "failed": tally["failed"],
                "errors": tally["error"],
                "skipped": tally["skipped"],
                "flake_rate": bad / trials if trials else None,
                "upper_bound_95": upper_bound(bad, trials, CONFIDENCE) if trials else None,
                "consecutive_passes": _consecutive([(i, o) for i, o, _ in items]),
                "seconds": round(sum(run.seconds for _, _, run in items), 3),
                **_loop_fields([run.loop for _, _, run in items]),
                "signatures": _signatures([f for _, _, run in items for f in run.failures]),
                "failed_runs": [
                    {
                        "nodeid": run.nodeid,
                        "repetition": index,
                        "replay": replay(run.nodeid) if replay else None,
                    }
                    for index, outcome, run in sorted(items, key=lambda item: item[0])
                    if outcome in ("failed", "error")
                ][:_FAILED_RUNS_KEPT],
            }
        )
    tests.sort(key=lambda t: (-(t["failed"] + t["errors"]), t["nodeid"]))
    return tests


def _loop_fields(loops: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Which clock a test's runs had, the time skipped, and the schedules explored.

    ``clock``: ``virtual`` (every run on gateproof's loop had the virtual clock),
    ``real``, ``mixed``, or null (no run was on gateproof's loop: not an asyncio
    test, or the loop was not asked for).
    """
    seen = [loop for loop in loops if loop]
    clocks = {loop.get("clock") for loop in seen}
    clock = None if not clocks else clocks.pop() if len(clocks) == 1 else "mixed"
    fields: dict[str, Any] = {
        "clock": clock,
        "virtual_seconds": round(sum(loop.get("virtual_seconds", 0.0) for loop in seen), 3),
        "real_waits": sum(loop.get("real_waits", 0) for loop in seen),
    }
    explored = [loop for loop in seen if loop.get("schedule")]
    if explored:
        strategy = explored[0].get("strategy", "")
        tasks = max(loop.get("tasks", 0) for loop in explored)
        steps = max(loop.get("steps", 0) for loop in explored)
        fields["exploration"] = {
            "strategy": strategy,
            "runs": len(explored),
            "distinct_schedules": len({loop["schedule"] for loop in explored}),
            "tasks": tasks,
            "steps": steps,
            **pct_guarantee(strategy, tasks, len(explored)),
        }
    return fields


def pct_guarantee(strategy: str, tasks: int, runs: int) -> dict[str, Any]:
    """PCT's bound for bugs of depth <= d: per run 1/(n*k^(d-1)), and over ``runs`` runs."""
    name, _, rest = strategy.partition(":")
    if name != "pct":
        return {}
    params = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
    depth, k = int(float(params.get("d", 2))), int(float(params.get("k", 1)))
    per_run = 1.0 / (max(tasks, 1) * k ** (depth - 1))
    return {
        "depth": depth,
        "pct_bound_per_run": per_run,
        "pct_bound": 1.0 - (1.0 - per_run) ** runs,
    }


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def verdict(report: Mapping[str, Any]) -> str:
    """One sentence a reader can act on: the bound if all passed, else who failed and how often."""
    tests = report["tests"]
    failing = [t for t in tests if t["failed"] + t["errors"]]
    if failing:
        parts = [
            f"{t['nodeid']} failed {t['failed'] + t['errors']} of {t['runs'] - t['skipped']} runs "
            f"({_percent(t['flake_rate'])}, 95% upper bound {_percent(t['upper_bound_95'])})"
            for t in failing[:_LISTED_IN_VERDICT]
        ]
        more = len(failing) - _LISTED_IN_VERDICT
        listed = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
        return f"FAILED: {len(failing)} of {len(tests)} tests failed: {listed}"
    if not report["totals"]["runs"]:
        return "NO RESULT: no test ran; see collection_errors and pytest.log"
    if report["upper_bound_95"] is None:
        return f"NO RESULT: all {report['totals']['runs']} runs were skipped"
    bound = _percent(report["upper_bound_95"])
    runs = report["consecutive_passes"]
    if not report["complete"]:
        return (
            f"INCOMPLETE: no failure in the {report['totals']['runs']} runs that finished "
            f"(every test passed {runs} consecutive runs): flake rate below {bound} "
            f"at 95% confidence, but the run did not finish"
        )
    return (
        f"PASSED: every test passed {runs} consecutive runs: flake rate below {bound} "
        f"at 95% confidence"
    )


def build_report(
    records: Iterable[Mapping[str, Any]],
    *,
    count: int,
    complete: bool,
    replay: Callable[[str], str] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict; ``meta`` adds the run's description fields.

    ``replay`` gives the command that reruns one failing repetition.
    """
    records = list(records)
    tests = summarize_tests(assemble_runs(records), count, replay)
    start = next((r for r in records if r.get("event") == "start"), {})
    collected = next((r for r in records if r.get("event") == "collected"), None)
    errors = [
        {"nodeid": r["nodeid"], "message": r["message"]}
        for r in records
        if r.get("event") == "collect_error"
    ]
    totals = {
        key: sum(t[key] for t in tests) for key in ("runs", "passed", "failed", "errors", "skipped")
    }
    judged = [t for t in tests if t["upper_bound_95"] is not None]
    expected = collected["count"] if collected else None
    complete = complete and not errors and (expected is None or totals["runs"] >= expected)
    lost = max(0, expected - totals["runs"]) if expected is not None else None
    lost_because = meta.pop("lost_because", None)
    report: dict[str, Any] = {
        "verdict": "",
        "passed_all": False,
        "complete": complete,
        "consecutive_passes": min((t["consecutive_passes"] for t in judged), default=0),
        "upper_bound_95": max((t["upper_bound_95"] for t in judged), default=None),
        "totals": totals,
        "expected_runs": expected,
        "count": count,
        "seed": {
            "requested": meta.pop("seed", None),
            "hypothesis": start.get("hypothesis_seed"),
            "shuffle": start.get("shuffle_seed"),
        },
        "lost_runs": lost,
        "lost_because": lost_because if lost or not complete else None,
        "restarts": meta.pop("restarts", []),
        "virtual_time": _virtual_time(tests),
        "exploration": _exploration(tests, meta.pop("schedules", None)),
        **meta,
        "collection_errors": errors,
        "tests": tests,
    }
    report["passed_all"] = complete and bool(judged) and totals["failed"] + totals["errors"] == 0
    report["verdict"] = verdict(report)
    return report


def _virtual_time(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """Which tests ran on virtual time, which on the real clock, and the time skipped."""
    return {
        "tests": [t["nodeid"] for t in tests if t["clock"] == "virtual"],
        "real_time_tests": [t["nodeid"] for t in tests if t["clock"] in ("real", "mixed")],
        "virtual_seconds": round(sum(t["virtual_seconds"] for t in tests), 3),
        "real_waits": sum(t["real_waits"] for t in tests),
    }


def _exploration(tests: list[dict[str, Any]], schedules: int | None) -> dict[str, Any] | None:
    """The schedules explored over the whole run; null when no test ran under --explore."""
    explored = [t["exploration"] for t in tests if t.get("exploration")]
    if not explored:
        return None
    summary: dict[str, Any] = {
        "strategy": explored[0]["strategy"],
        "schedules_per_test": schedules,
        "runs": sum(e["runs"] for e in explored),
        "distinct_schedules": sum(e["distinct_schedules"] for e in explored),
    }
    if "pct_bound" in explored[0]:
        summary["depth"] = explored[0]["depth"]
        summary["pct_bound"] = min(e["pct_bound"] for e in explored)  # the weakest test's
    return summary


def _exploration_line(report: Mapping[str, Any]) -> list[str]:
    explored = report.get("exploration")
    if not explored:
        return []
    line = (
        f"- Schedules: {explored['strategy']}, {explored['distinct_schedules']} distinct "
        f"schedules in {explored['runs']} runs"
    )
    if "pct_bound" in explored:
        line += (
            f"; a bug of depth <= {explored['depth']} in any test is found with probability "
            f">= {_percent(explored['pct_bound'])} (PCT's bound, the weakest test's)"
        )
    return [line]


def _clock_line(report: Mapping[str, Any]) -> list[str]:
    clocks = report.get("virtual_time")
    if not clocks or not (clocks["tests"] or clocks["real_time_tests"]):
        return []
    return [
        f"- Clock: {len(clocks['tests'])} tests on virtual time "
        f"({clocks['virtual_seconds']:.1f} s of timer waits skipped), "
        f"{len(clocks['real_time_tests'])} on the real clock; {clocks['real_waits']} waits "
        f"kept real time for pending I/O"
    ]


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report for people: verdict first, then the table, then what failed and where."""
    totals = report["totals"]
    seed = report["seed"]
    seeds = ", ".join(f"{k} {v}" for k, v in seed.items() if v is not None) or "not fixed"
    wall = report.get("wall_seconds")
    lines = [
        "# Flakiness report",
        "",
        f"**{report['verdict']}**",
        "",
        f"- Runs: {totals['runs']} of {report['expected_runs'] or '?'} expected "
        f"({report['count']} repetitions per test); passed {totals['passed']}, "
        f"failed {totals['failed']}, errors {totals['errors']}, skipped {totals['skipped']}",
        f"- Complete: {'yes' if report['complete'] else 'no'}"
        + (
            f"; {report['lost_runs']} runs lost: {report['lost_because']}"
            if report.get("lost_runs")
            else ""
        ),
        *(
            f"- Restarted after {r['after_runs']} runs ({r['left']} left): {r['because']}"
            for r in report.get("restarts", [])
        ),
        f"- Wall time: {wall:.1f} s" if wall is not None else "- Wall time: unknown",
        f"- Seeds: {seeds}",
        *_clock_line(report),
        *_exploration_line(report),
        f"- Command: `{report.get('command', '')}`",
        f"- gateproof {report.get('gateproof_version', '?')}",
        "",
    ]
    if report["collection_errors"]:
        lines += ["## Collection errors", ""]
        for error in report["collection_errors"]:
            lines += [f"### `{error['nodeid']}`", "", "```", error["message"], "```", ""]
    lines += [
        "## Tests",
        "",
        "| Test | Runs | Passed | Failed | Errors | Skipped | Flake rate | 95% upper bound "
        "| Time (s) | Clock |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for test in report["tests"]:
        rate = "n/a" if test["flake_rate"] is None else _percent(test["flake_rate"])
        bound = "n/a" if test["upper_bound_95"] is None else _percent(test["upper_bound_95"])
        name = test["nodeid"].replace("|", "\\|")
        lines.append(
            f"| `{name}` | {test['runs']} | {test['passed']} | {test['failed']} | "
            f"{test['errors']} | {test['skipped']} | {rate} | {bound} | {test['seconds']:.1f} | "
            f"{test.get('clock') or '-'} |"
        )
    failing = [t for t in report["tests"] if t["signatures"]]
    if failing:
        lines += ["", "## Failure signatures"]
    for test in failing:
        lines += ["", f"### `{test['nodeid']}`", ""]
        for sig in test["signatures"]:
            phases = ", ".join(sig["phases"])
            lines += [
                f"- **{sig['type']}** at `{sig['location']}` ({phases}): "
                f"{sig['count']} run{'s' if sig['count'] != 1 else ''}",
                "",
                "  ```",
                *(f"  {line}" for line in sig["message"].splitlines()),
                "  ```",
            ]
        replays = [run for run in test.get("failed_runs", []) if run["replay"]]
        if replays:
            lines += ["", "Replay one failing repetition:", ""]
            lines += [f"- repetition {run['repetition']}: `{run['replay']}`" for run in replays[:5]]
    return "\n".join(lines) + "\n"


def write_report(report: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``flakiness.json`` and ``flakiness.md`` into ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "flakiness.json", out_dir / "flakiness.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
