"""`gateproof sim calibrate LOAD_DIR`: a call's overhead measured from a load run's own files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateproof.cli import main


def _load_json(folder: Path, functions: dict[str, object]) -> Path:
    folder.mkdir()
    (folder / "load.json").write_text(json.dumps({"version": 1, "functions": functions}))
    return folder


def test_calibrate_prints_each_functions_overhead_block(tmp_path: Path, capsys: object) -> None:
    out = _load_json(
        tmp_path / "run",
        {
            "echo": {"time_outside_worker": {"median": 0.0031, "samples": 4000}},
            "resize": {"time_outside_worker": {"median": 0.0042, "samples": 900}},
        },
    )
    assert main(["sim", "calibrate", str(out)]) == 0
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "overhead: {kind: constant, value: 0.0031}" in printed
    assert "overhead: {kind: constant, value: 0.0042}" in printed
    assert "4000 calls of echo; paste under functions.echo" in printed


def test_a_run_against_staging_has_no_overhead_to_calibrate(tmp_path: Path, capsys: object) -> None:
    out = _load_json(
        tmp_path / "run", {"echo": {"time_outside_worker": {"median": None, "samples": 0}}}
    )
    assert main(["sim", "calibrate", str(out / "load.json")]) == 2
    assert "against --target local" in capsys.readouterr().err  # type: ignore[attr-defined]


SCENARIO = """\
# hand-written: this comment must survive calibration
name: cal
duration: 20
functions:
  echo:
    scaling: {max_capacity: 4}   # four workers
    service: {kind: constant, value: 0.010}
workload:
  echo:
    arrivals: {kind: poisson, rate: 50}
"""


def _split(mean: float, stdev: float, samples: int = 500) -> dict[str, float]:
    return {"samples": samples, "mean": mean, "stdev": stdev, "p50": mean, "p99": 3 * mean}


def test_the_server_timing_split_gives_both_overheads_and_writes_the_scenario(
    tmp_path: Path, capsys: object
) -> None:
    scenario = tmp_path / "cal.yaml"
    scenario.write_text(SCENARIO)
    out = _load_json(
        tmp_path / "run",
        {
            "echo": {
                "time_outside_worker": {"median": 0.009, "samples": 500},  # what it replaces
                "server_timing": {
                    "hold-svc": _split(0.003, 0.0015),
                    "latency-queue-hold": _split(0.002, 0.0),
                },
            }
        },
    )
    written = tmp_path / "calibrated.yaml"
    args = ["sim", "calibrate", str(out), "--write", str(written), "--scenario", str(scenario)]
    assert main(args) == 0
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "# functions.echo (from server-timing)" in printed
    text = written.read_text()
    assert "# hand-written: this comment must survive calibration" in text
    assert "# four workers" in text
    from scenarios.loading import load_scenario

    echo = load_scenario(written).functions["echo"]
    assert echo.overhead.kind == "constant" and echo.overhead.mean == 0.002  # no spread
    assert echo.hold_overhead.kind == "gamma"
    assert echo.hold_overhead.mean == pytest.approx(0.003)  # the mean is kept
    assert echo.hold_overhead.shape == pytest.approx(4.0)  # (0.003 / 0.0015)^2


def test_without_a_split_the_median_method_gives_the_overhead_alone(
    tmp_path: Path, capsys: object
) -> None:
    out = _load_json(
        tmp_path / "run", {"echo": {"time_outside_worker": {"median": 0.004, "samples": 9}}}
    )
    assert main(["sim", "calibrate", str(out)]) == 0
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "(from median)" in printed and "value: 0.004" in printed
    assert "hold_overhead: not measured (the target sent no Server-Timing)" in printed


def test_write_without_the_runs_scenario_says_to_pass_one(tmp_path: Path, capsys: object) -> None:
    out = _load_json(
        tmp_path / "run", {"echo": {"time_outside_worker": {"median": 0.004, "samples": 9}}}
    )
    assert main(["sim", "calibrate", str(out), "--write", str(tmp_path / "x.yaml")]) == 2
    assert "pass --scenario SCENARIO" in capsys.readouterr().err  # type: ignore[attr-defined]
    assert not (tmp_path / "x.yaml").exists()
