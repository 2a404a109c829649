"""Locust's own master/worker mode: one master gates the SLOs, workers only make requests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from load_helpers import gateproof_load, write_scenario

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker_argv(scenario: Path, port: str, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "gateproof", "load", str(scenario),
        "--set", "duration=10",
        "--worker", "--master-host", "127.0.0.1", "--master-port", port,
        "--out", str(out),
    ]  # fmt: skip


def test_a_master_and_two_workers_on_this_machine_produce_one_report(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    port = str(_free_port())
    master = subprocess.Popen(
        [
            sys.executable, "-m", "gateproof", "load", str(scenario),
            "--target", "local", "--set", "duration=10", "--no-predict",
            "--set", "slo.p99=60",  # latency is the machine's: only errors may fail the run
            "--master", "--expect-workers", "2",
            "--master-bind-host", "127.0.0.1", "--master-port", port,
            "--out", str(tmp_path / "master"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            _worker_argv(scenario, port, tmp_path / f"worker{i}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    try:
        stdout, stderr = master.communicate(timeout=180)
        worker_status = [worker.wait(60) for worker in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.wait()

    assert master.returncode == 0, stderr
    assert worker_status == [0, 0]
    report = json.loads((tmp_path / "master" / "load.json").read_text())
    assert report["complete"] is True
    overall = report["overall"]
    assert 0 < overall["requests"] < 1.5 * planned(report)  # the workers share the rate
    # every arrival of both workers reached the master's tally, but for the calls in flight
    # at the measured window's two ends (at most one per user at each)
    assert abs(report["lag"]["arrivals"] - overall["requests"]) <= 2 * report["max_users"]
    assert "PASSED" in stdout
    for i in (1, 2):
        assert not (tmp_path / f"worker{i}" / "load.json").exists()  # the master reports alone


def test_a_worker_without_a_master_host_is_refused(tmp_path: Path) -> None:
    run = gateproof_load(write_scenario(tmp_path), "--worker", out=tmp_path / "out")
    assert run.status == 2
    assert "--worker needs --master-host" in run.stderr


def test_local_worker_processes_share_the_rate_and_report_once(tmp_path: Path) -> None:
    run = gateproof_load(
        write_scenario(tmp_path),
        "--target", "local", "--processes", "2", "--set", "duration=10", "--no-predict",
        "--set", "slo.p99=60",  # latency is the machine's: only errors may fail the run
        out=tmp_path / "out",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    overall = run.report["overall"]
    assert overall["target_rate"] == pytest.approx(75.0)
    # not twice the rate: a slow machine sends fewer arrivals than planned, never more
    assert 0 < overall["requests"] < 1.5 * planned(run.report)
    assert abs(run.report["lag"]["arrivals"] - overall["requests"]) <= 2 * run.report["max_users"]


def planned(report: dict) -> float:
    """The arrivals the plan scheduled in the measured window (their expected number)."""
    return report["overall"]["target_rate"] * report["measured_seconds"]
