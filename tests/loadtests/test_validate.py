"""`gateproof validate`: calibration, a load run and the model per utilisation, judged."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from load_helpers import gateproof

from loadtests.validation import judge_figure

# a 50 ms function on 4 warm workers; validate scales its rate per utilisation
SCENARIO = """\
name: tiny
duration: 20
warmup: 2
seed: 5
replications: 2
functions:
  echo:
    scaling: {max_capacity: 4, min_capacity: 4, acquire_timeout: 0.5, idle_timeout: 300}
    service: {kind: constant, value: 0.05}
workload:
  echo:
    arrivals: {kind: poisson, rate: 10}
slo: {p99: 0.3, timeout_rate: 0.01}
"""


def test_a_figure_agrees_within_its_target_else_within_noise_else_disagrees() -> None:
    agrees = judge_figure("latency", 0.25, (0.100, 0.090, 0.110), 0.120, 0.010, 60)
    assert agrees["verdict"] == "agrees" and agrees["error"] == pytest.approx(0.2)
    noisy = judge_figure("latency", 0.25, (0.100, 0.090, 0.110), 0.200, 0.095, 60)
    assert noisy["verdict"] == "within noise"  # +100%, but [105, 295] ms meets [90, 110]
    assert noisy["run_seconds_needed"] == pytest.approx(60 * (0.095 / 0.05) ** 2)
    missed = judge_figure("latency", 0.25, (0.100, 0.090, 0.110), 0.200, 0.020, 60)
    assert missed["verdict"] == "disagrees" and missed["run_seconds_needed"] is None
    rate = judge_figure("rate", 0.02, (0.010, 0.0, 0.02), 0.025, 0.001, 60)
    assert rate["verdict"] == "agrees" and rate["error"] == pytest.approx(0.015)  # points
    assert judge_figure("rate", 0.02, (math.nan,) * 3, 0.0, None, 60)["verdict"] == "not measured"


def test_a_figure_inside_the_models_spread_for_one_run_is_within_noise_not_a_miss() -> None:
    # +40% and a narrow measured interval that misses the model's mean interval...
    args = ("latency", 0.10, (0.500, 0.480, 0.520), 0.700, 0.050, 1200)
    assert judge_figure(*args)["verdict"] == "disagrees"
    # ...but one run this long varies from 0.35 to 0.75 s under the model itself
    row = judge_figure(*args, (0.350, 0.750))
    assert row["verdict"] == "within noise"
    assert row["one_run_interval"] == [0.350, 0.750] and row["inside_one_run"] is True
    outside = judge_figure(*args, (0.400, 0.600))
    assert outside["verdict"] == "disagrees" and outside["inside_one_run"] is False
    assert judge_figure(*args, (math.nan, math.nan))["one_run_interval"] is None


def test_one_runs_spread_is_wider_than_the_interval_of_the_mean_by_sqrt_n_plus_1() -> None:
    from sim.results import confidence_interval, prediction_interval

    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    mean_interval, one_run = confidence_interval(values), prediction_interval(values)
    assert one_run.mean == mean_interval.mean == 3.0
    assert one_run.high - one_run.mean == pytest.approx(
        (mean_interval.high - mean_interval.mean) * math.sqrt(len(values) + 1)
    )
    assert one_run.high - one_run.mean == pytest.approx(2.7764 * 1.5811 * math.sqrt(1.2), rel=1e-3)
    assert math.isnan(prediction_interval([2.0]).low)


def test_the_models_batch_means_are_cut_as_the_load_run_cuts_its_own() -> None:
    from loadtests.model_batches import model_batch_means

    # 1-s buckets; 2 s of warm-up, then two batches of 2 s each
    served = [9, 9, 1, 3, 2, 2, 9]
    latency = [9.0, 9.0, 0.1, 0.3, 0.5, 0.5, 9.0]
    errors = [0, 0, 0, 1, 0, 0, 0]
    replication = {"series": {"bucket_seconds": 1.0, "functions": {"echo": {
        "served": served, "errors": errors, "latency_mean": latency}}}}  # fmt: skip

    means = model_batch_means([replication, replication], "echo", warmup=2, window=4, batches=2)

    first = (0.1 * 1 + 0.3 * 4) / 5  # weighted by calls done (served and errors)
    assert means == pytest.approx([first, 0.5, first, 0.5])
    assert model_batch_means([replication], "echo", warmup=2, window=4, batches=8) == []


def test_batch_means_far_from_the_models_are_called_unlikely_under_it() -> None:
    from loadtests.model_batches import batch_check

    model = [0.1 + 0.01 * (i % 10) for i in range(50)]  # 0.10 to 0.19 s
    alike = batch_check([0.105, 0.12, 0.15, 0.17, 0.185, 0.11, 0.13, 0.16, 0.14, 0.175], model)
    assert alike is not None and alike["consistent"] and alike["model_range"] == [0.1, 0.19]
    shifted = batch_check([0.25, 0.3, 0.28, 0.26, 0.31, 0.27, 0.29, 0.24, 0.3, 0.26], model)
    assert shifted is not None and not shifted["consistent"] and shifted["p_value"] < 0.05
    assert batch_check([0.2], model) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--utilisation", "0.5,x"], "give numbers separated by commas"),
        (["--utilisation", "0"], "each must be above 0"),
        (["--set", "workload.echo.arrivals={kind: steps, steps: [{at: 0, rate: 5}]}"],
         "validate scales Poisson arrivals"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_any_load(
    tmp_path: Path, args: list[str], message: str
) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO)
    done = gateproof("validate", scenario, "--target", "local", *args, "--out", tmp_path / "o")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o" / "calibration").exists()


def test_an_earlier_calibration_run_that_is_no_load_run_is_refused(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO)
    done = gateproof(
        "validate", scenario, "--target", "local", "--calibration", tmp_path,
        "--out", tmp_path / "o",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "not a load.json of `gateproof load`" in done.stderr
    assert not (tmp_path / "o" / "u0.50").exists()  # refused before any load


@pytest.mark.slow
def test_a_very_short_validation_writes_its_verdict_table_and_plot(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    done = gateproof(
        "validate", scenario, "--target", "local", "--utilisation", "0.4,0.8",
        "--set", "duration=12", "--set", "warmup=1", "-n", "2", "--out", out,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    data = json.loads((out / "validation.json").read_text())
    assert done.returncode == (0 if data["verdict"] == "meets the targets" else 1)
    (fitted,) = data["calibration"]
    assert fitted["method"] == "server-timing" and fitted["hold_overhead"] is not None
    assert [p["utilisation"] for p in data["points"]] == [0.4, 0.8]
    low, high = (p["functions"]["echo"] for p in data["points"])
    assert high["rate"] == pytest.approx(2 * low["rate"], rel=1e-3)  # scaled with utilisation
    assert (
        low["rate"] < 0.4 * 4 / 0.05
    )  # the calibrated hold counts: fewer calls than service alone
    for point in data["points"]:
        figures = point["functions"]["echo"]["figures"]
        for row in figures.values():  # two replications: the model's spread for one run
            low, high = row["one_run_interval"]
            assert low <= row["predicted"] <= high
        assert set(figures) == {"mean", "p99", "timeout_rate"}
        assert {f["verdict"] for f in figures.values()} <= {"agrees", "within noise", "disagrees"}
        assert figures["p99"]["measured"] > 0.05  # a call lasts at least its service
        assert point["functions"]["echo"]["components"]["hold"]["measured"] >= 0.05
        check = point["functions"]["echo"]["batch_means"]
        assert len(check["measured"]) == 10 and check["model_batches"] == 2 * 10
        assert 0 <= check["p_value"] <= 1
    table = (out / "validation.md").read_text()
    assert "| 0.8 | echo | p99 |" in table and data["verdict"] in table
    assert (out / "validation.png").stat().st_size > 0
    assert (out / "calibrated.yaml").is_file()

    again = tmp_path / "again"  # one more point, from the same calibration run
    done = gateproof(
        "validate", scenario, "--target", "local", "--utilisation", "0.6",
        "--calibration", out / "calibration", "--set", "duration=4", "--set", "warmup=1",
        "-n", "2", "--out", again,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert "calibrated from the earlier run" in done.stdout + done.stderr
    assert not (again / "calibration").exists()
    reused = json.loads((again / "validation.json").read_text())
    assert reused["calibration"] == data["calibration"]
    assert [p["utilisation"] for p in reused["points"]] == [0.6]


def test_a_miss_is_blamed_on_the_held_time_that_queueing_amplifies_near_saturation() -> None:
    from loadtests.validation_report import _missed_parts

    parts = {
        "queue": {"measured": 0.507, "model": 0.114, "missed": 0.393},
        "hold": {"measured": 0.07282, "model": 0.06923, "missed": 0.00359},
        "latency-queue-hold": {"measured": 0.00787, "model": 0.00287, "missed": 0.005},
    }
    (note,) = _missed_parts(0.95, "echo", parts)
    assert "misses most on `hold`: measured mean 72.82 ms, model 69.23 ms (+3.59 ms)" in note
    assert "utilisation 1.00" in note and "queueing followed: measured 507.0 ms" in note
    calm = {**parts, "hold": {"measured": 0.0693, "model": 0.06923, "missed": 0.00007}}
    (note,) = _missed_parts(0.5, "echo", calm)
    assert "misses most on `latency-queue-hold`" in note
