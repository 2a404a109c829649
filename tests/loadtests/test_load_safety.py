"""Staging safety: bad input is refused before any request, auth stays secret, Ctrl-C is clean."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from load_helpers import gateproof_load, recording_server, write_scenario

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--set", "duration=-5"], "duration: Input should be greater than 0"),
        (["--set", "workload.nope.arrivals.kind=poisson"], "workload"),
        (["--set", "functions.echo.service.kind=normal"], "functions.echo.service"),
    ],
)
def test_an_invalid_scenario_is_refused_before_any_request(
    tmp_path: Path, change: list[str], message: str
) -> None:
    scenario = write_scenario(tmp_path)
    with recording_server() as staging:
        run = gateproof_load(scenario, "--host", staging.url, *change, out=tmp_path / "out")
    assert run.status == 2
    assert message in run.stderr
    assert staging.requests == []


def test_a_missing_scenario_file_is_refused_naming_it(tmp_path: Path) -> None:
    with recording_server() as staging:
        run = gateproof_load(tmp_path / "nope.yaml", "--host", staging.url, out=tmp_path / "out")
    assert run.status == 2
    assert "nope.yaml: cannot read the scenario file" in run.stderr
    assert staging.requests == []


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1:8080", "give an absolute http:// or https:// URL"),
        ("ftp://127.0.0.1:{port}", "give an absolute http:// or https:// URL"),
        ("http://127.0.0.1:99999", "the port is not a number"),
        ("http://", "give an absolute http:// or https:// URL"),
    ],
)
def test_an_invalid_host_is_refused_before_any_request(
    tmp_path: Path, host: str, message: str
) -> None:
    scenario = write_scenario(tmp_path)
    with recording_server() as staging:
        port = staging.url.rsplit(":", 1)[1]
        run = gateproof_load(scenario, "--host", host.format(port=port), out=tmp_path / "out")
    assert run.status == 2
    assert message in run.stderr
    assert staging.requests == []


def test_headers_and_the_bearer_token_reach_staging_but_the_token_is_never_shown(
    tmp_path: Path,
) -> None:
    secret = "s3cr3t-token-value"
    scenario = write_scenario(tmp_path)
    env_before = dict(os.environ)
    os.environ["STAGING_TOKEN"] = secret
    try:
        with recording_server() as staging:
            run = gateproof_load(
                scenario,
                "--host", staging.url,
                "--set", "duration=3", "--set", "warmup=0",
                "--header", "X-Team: payments",
                "--token-env", "STAGING_TOKEN",
                "--no-predict",
                out=tmp_path / "out",
            )  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    assert run.status == 0, run.stderr
    assert staging.requests, "staging saw no request"
    assert all(r["authorization"] == f"Bearer {secret}" for r in staging.requests)
    assert all(r["x-team"] == "payments" for r in staging.requests)
    assert f"host {staging.url}" in run.stdout
    assert secret not in run.stdout + run.stderr
    for path in (tmp_path / "out").iterdir():
        assert secret not in path.read_text(errors="replace"), path.name
    # against staging nothing of the scenario's behaviour is sent, only its payload
    assert run.report["functions"]["echo"]["requests"] > 0


def test_an_unset_token_variable_is_refused_before_any_request(tmp_path: Path) -> None:
    with recording_server() as staging:
        run = gateproof_load(
            write_scenario(tmp_path),
            "--host", staging.url,
            "--token-env", "GATEPROOF_TEST_NO_SUCH_TOKEN",
            out=tmp_path / "out",
        )  # fmt: skip
    assert run.status == 2
    assert "GATEPROOF_TEST_NO_SUCH_TOKEN" in run.stderr
    assert staging.requests == []


def test_ctrl_c_stops_the_load_at_once_and_writes_an_incomplete_report(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gateproof", "load", str(scenario), "--target", "local",
            "--set", "duration=120", "--out", str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal, even when this suite runs where SIGINT is ignored (nohup, &)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not (out / "locust_stats_history.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # some load is running
        descendants = psutil.Process(process.pid).children(recursive=True)
        interrupted_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        stopped_after = time.monotonic() - interrupted_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, stderr
    assert stopped_after < 40
    report = json.loads((out / "load.json").read_text())
    assert report["complete"] is False
    assert report["overall"]["requests"] > 0
    assert "marked incomplete" in stderr
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == [], f"left running after Ctrl-C: {alive}"


def test_a_killed_run_takes_its_gateway_workers_and_locust_with_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gateproof", "load", str(write_scenario(tmp_path)),
            "--target", "local", "--set", "duration=120", "--out", str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not (out / "locust_stats_history.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert len(descendants) >= 3  # gateway, its workers, Locust
        process.kill()  # SIGKILL: no clean-up code of the run can run
        process.wait(10)
        _, alive = psutil.wait_procs(descendants, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for leftover in alive:
        leftover.kill()
    assert alive == [], f"left running after kill -9: {alive}"
