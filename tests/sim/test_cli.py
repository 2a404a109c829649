"""`gateproof sim`, `gateproof sim calibrate` and `gateproof plan` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gateproof.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHORT = ["--set", "duration=40", "--set", "warmup=5", "--replications", "2", "--workers", "1"]


def test_sim_writes_json_and_plots_and_prints_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["sim", str(SCENARIOS / "steady.yaml"), *SHORT, "--out", str(tmp_path), "-q"])
    out = capsys.readouterr().out
    assert status == EXIT_OK
    assert "SLO: met" in out
    assert "echo" in out and "resize" in out and "p99 ms" in out
    data = json.loads((tmp_path / "sim.json").read_text())
    assert data["replications"] == 2 and data["slo"]["met"] is True
    p99 = data["functions"]["echo"]["latency_p99"]
    assert p99["ci_low"] <= p99["mean"] <= p99["ci_high"]
    for name in ("latency", "pool", "breaker", "timeouts"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_sim_exits_1_and_names_the_breach_when_an_slo_is_missed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "sim",
            str(SCENARIOS / "steady.yaml"),
            *SHORT,
            "--set",
            "slo.p99=0.01",
            "--out",
            str(tmp_path),
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert status == EXIT_FAILED
    assert "SLO: BREACHED" in out and "echo: latency_p99 = " in out and "> limit 0.01" in out


def test_a_broken_scenario_exits_2_with_the_field_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["sim", str(SCENARIOS / "steady.yaml"), "--set", "functions.echo.scaling.max_capacity=0"]
    )
    err = capsys.readouterr().err
    assert status == EXIT_USAGE
    assert "steady.yaml" in err and "functions.echo.scaling.max_capacity" in err
    assert main(["sim", str(tmp_path / "missing.yaml")]) == EXIT_USAGE
    assert "cannot read the scenario file" in capsys.readouterr().err


def test_calibrate_prints_a_block_that_loads_as_a_scenario_distribution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from scenarios.loading import parse_scenario

    durations = np.random.default_rng(2).lognormal(np.log(40), 0.5, 3000)  # milliseconds
    log = tmp_path / "access.jsonl"
    lines = [{"function": "f", "status": 200, "duration_ms": d} for d in durations]
    lines += [{"function": "f", "status": 503, "duration_ms": 5000.0}] * 100  # left out
    lines += [{"function": "g", "status": 200, "duration_ms": 900.0}] * 100  # another function
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["sim", "calibrate", str(log), "--function", "f"]) == EXIT_OK
    block = yaml.safe_load(capsys.readouterr().out)
    service = block["service"]
    assert service["kind"] == "lognormal"
    assert service["median"] == pytest.approx(0.040, rel=0.05)
    scenario = parse_scenario(
        {
            "name": "c",
            "duration": 1,
            "functions": {"f": {"service": service}},
            "workload": {"f": {"arrivals": {"kind": "poisson", "rate": 1}}},
        }
    )
    assert scenario.functions["f"].service.median == service["median"]


def test_calibrate_reads_a_locust_stats_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scipy import stats

    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,90%,95%,99%"
    levels = [0.5, 0.66, 0.75, 0.9, 0.95, 0.99]
    row = [f"{1000 * stats.lognorm(0.6, 0, 0.05).ppf(q):.1f}" for q in levels]
    lines = [header] + [f"{t},10,,Aggregated,20,0,{','.join(row)}" for t in range(5)]
    history = tmp_path / "run_stats_history.csv"
    history.write_text("\n".join(lines) + "\n")
    assert main(["sim", "calibrate", str(history)]) == EXIT_OK
    import yaml

    service = yaml.safe_load(capsys.readouterr().out)["service"]
    assert service["kind"] == "lognormal"
    assert service["median"] == pytest.approx(0.05, rel=1e-2)
    assert service["p99"] == pytest.approx(stats.lognorm(0.6, 0, 0.05).ppf(0.99), rel=1e-2)


def test_calibrate_rejects_a_log_without_durations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.jsonl"
    log.write_text('{"path": "/x"}\n')
    assert main(["sim", "calibrate", str(log)]) == EXIT_USAGE
    assert "access.jsonl:1: expected a JSON object with a numeric 'duration_ms'" in (
        capsys.readouterr().err
    )


def test_plan_finds_the_smallest_pool_and_plots_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "plan",
            str(SCENARIOS / "peak.yaml"),
            "--sizes",
            "8,10,12,14",
            "--set",
            "duration=60",
            "--set",
            "warmup=5",
            "--replications",
            "2",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
            "-q",
        ]
    )
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "plan.json").read_text())
    echo = data["functions"]["echo"]
    assert status == EXIT_OK
    assert echo["max_capacity"] in (11, 12)  # 10 misses the p99 SLO at 0.95 utilisation
    tried = [p["max_capacity"] for p in echo["points"]]
    assert tried == sorted(tried) and 11 in tried  # the gap between 10 and 12 was filled
    assert all(p["met"] for p in echo["points"] if p["max_capacity"] >= echo["max_capacity"])
    assert f"=> max_capacity {echo['max_capacity']}" in out
    assert (tmp_path / "plan.png").read_bytes()[:4] == b"\x89PNG"


def test_plan_rejects_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(SCENARIOS / "peak.yaml"), "--sizes", "ten"]) == EXIT_USAGE
    assert "whole numbers" in capsys.readouterr().err


def test_calibrate_without_a_file_says_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "calibrate"]) == EXIT_USAGE
    assert "calibrate needs a FILE" in capsys.readouterr().err
