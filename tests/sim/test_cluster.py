"""`gateproof sim` and `plan` on a Dask cluster: same results, clear refusals, no leftovers.

Every cluster here is real: a ``distributed.LocalCluster`` or ``dask worker``
processes, all on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import numpy as np
import pytest

from gateproof.cli import EXIT_ENVIRONMENT, EXIT_OK, EXIT_USAGE, main
from scenarios.loading import load_scenario
from sim.cluster import Cluster, connect, environment_versions, ship, unship
from sim.model import run_replication
from sim.replications import run_jobs

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
QUICK = ["--set", "duration=60", "--set", "warmup=5", "--replications", "3", "-q"]
BOUND_S = 60.0  # no wait in these tests lasts longer


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two single-threaded worker processes on 127.0.0.1."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, what: str, timeout: float = BOUND_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _scheduler_tasks(client: Any) -> int:
    return client.run_on_scheduler(lambda dask_scheduler=None: len(dask_scheduler.tasks))


def test_plan_on_the_cluster_writes_the_same_plan_json_as_the_local_run(
    cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["plan", str(SCENARIOS / "peak.yaml"), "--sizes", "6,9,12", *QUICK]
    assert main([*args, "--out", str(tmp_path / "local")]) == EXIT_OK
    remote = [*args, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]
    assert main(remote) == EXIT_OK
    out = capsys.readouterr().out
    local_plan = (tmp_path / "local" / "plan.json").read_bytes()
    assert (tmp_path / "dask" / "plan.json").read_bytes() == local_plan
    assert f"ran on the Dask cluster at {cluster.scheduler_address} (2 workers)" in out
    assert "0 replications rerun after a worker died" in out


def test_sim_on_the_cluster_is_bit_for_bit_the_local_run(cluster: Any, tmp_path: Path) -> None:
    args = ["sim", str(SCENARIOS / "soak.yaml"), "--set", "duration=300", "--set", "warmup=10"]
    args += ["--replications", "4", "-q"]
    assert main([*args, "--out", str(tmp_path / "local"), "--workers", "1"]) == EXIT_OK
    remote = [*args, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]
    assert main(remote) == EXIT_OK
    local = json.loads((tmp_path / "local" / "sim.json").read_text())
    dask = json.loads((tmp_path / "dask" / "sim.json").read_text())
    assert dask == local


def test_gateproof_scheduler_in_the_environment_selects_the_cluster(
    cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("GATEPROOF_SCHEDULER", cluster.scheduler_address)
    status = main(["sim", str(SCENARIOS / "steady.yaml"), *QUICK, "--out", str(tmp_path)])
    assert status == EXIT_OK
    assert "ran on the Dask cluster" in capsys.readouterr().out


def test_a_scenario_travels_as_data_with_the_contents_of_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    shutil.copytree(SCENARIOS, folder)
    scenario = load_scenario(folder / "soak.yaml", ["duration=120", "warmup=5"])
    payload = ship(scenario)
    expected = run_replication(scenario, 7)
    shutil.rmtree(folder)  # a worker on another machine has no copy of the user's files
    unship.cache_clear()
    rebuilt = unship(payload)
    assert rebuilt.functions["echo"].service.file != scenario.functions["echo"].service.file
    assert run_replication(rebuilt, 7) == expected


def test_an_unreachable_scheduler_is_refused_with_exit_3_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    status = main(["plan", str(SCENARIOS / "peak.yaml"), *QUICK, "--out", str(tmp_path)])
    assert status == EXIT_OK  # the same command runs locally without --scheduler
    (tmp_path / "plan.json").unlink()
    status = main(
        [
            "plan",
            str(SCENARIOS / "peak.yaml"),
            *QUICK,
            "--out",
            str(tmp_path),
            "--scheduler",
            address,
        ]
    )
    err = capsys.readouterr().err
    assert status == EXIT_ENVIRONMENT
    assert f"no Dask scheduler answered at {address}" in err and "dask scheduler" in err
    assert not (tmp_path / "plan.json").exists()


def test_a_malformed_local_cluster_size_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["sim", str(SCENARIOS / "steady.yaml"), *QUICK, "--scheduler", "local:zero"])
    assert status == EXIT_USAGE
    assert "write local:N" in capsys.readouterr().err


def _shadow_version(folder: Path, version: str) -> Path:
    """A site folder whose gateproof metadata says another version, as another install would."""
    info = folder / f"gateproof-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: gateproof\nVersion: {version}\n")
    return folder


def test_workers_with_another_gateproof_version_are_refused_naming_the_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with distributed.LocalCluster(
        n_workers=0, host="127.0.0.1", dashboard_address=None, processes=True
    ) as scheduler_only:
        address = scheduler_only.scheduler_address
        env = dict(os.environ)
        site = _shadow_version(tmp_path / "site", "9.9.9")
        env["PYTHONPATH"] = str(site)
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1"],
            env=env,
            cwd=tmp_path,  # not the project root, whose own metadata would come first
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            with distributed.Client(address, set_as_default=False) as client:
                client.wait_for_workers(1, timeout=BOUND_S)
            scenario = str(SCENARIOS / "steady.yaml")
            status = main(["sim", scenario, *QUICK, "--out", str(tmp_path), "--scheduler", address])
        finally:
            worker.terminate()
            worker.wait(timeout=BOUND_S)
    err = capsys.readouterr().err
    here = environment_versions()["gateproof"]
    assert status == EXIT_ENVIRONMENT
    assert f"gateproof 9.9.9 (here {here})" in err
    assert not (tmp_path / "sim.json").exists()


def test_a_worker_that_dies_mid_sweep_has_its_replications_rerun_elsewhere() -> None:
    scenario = load_scenario(SCENARIOS / "steady.yaml", ["duration=1500", "warmup=5"])
    jobs = [(scenario, child) for child in np.random.SeedSequence(3).spawn(6)]
    expected = run_jobs(jobs, workers=2)
    with connect("local:2") as client:
        cluster = Cluster(client)
        pids = client.run(os.getpid)
        outcome: dict[str, Any] = {}

        def sweep() -> None:
            try:
                outcome["results"] = cluster.run(jobs)
            except BaseException as error:  # reported by the assertion below
                outcome["error"] = error

        thread = threading.Thread(target=sweep)
        thread.start()

        def busy() -> list[str]:
            return [w for w, keys in client.processing().items() if keys and w in pids]

        _wait(lambda: bool(busy()) or not thread.is_alive(), "a worker to start a replication")
        victim = busy()[0]
        os.kill(pids[victim], signal.SIGKILL)
        thread.join(timeout=BOUND_S)
        assert not thread.is_alive(), "the sweep did not finish after a worker died"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["results"] == expected
    assert cluster.retried >= 1


def test_ctrl_c_cancels_every_submitted_replication(cluster: Any, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "gateproof",
        "sim",
        str(SCENARIOS / "steady.yaml"),
        "--set",
        "duration=3000",
        "--replications",
        "40",
        "-q",
        "--out",
        str(tmp_path),
        "--scheduler",
        cluster.scheduler_address,
    ]
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as watcher:
        run = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            _wait(lambda: _scheduler_tasks(watcher) > 0 or run.poll() is not None, "submission")
            run.send_signal(signal.SIGINT)
            _, err = run.communicate(timeout=BOUND_S)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        assert run.returncode == 130, err
        assert "interrupted" in err
        _wait(lambda: _scheduler_tasks(watcher) == 0, "the scheduler to forget every task")

        def executing(dask_worker=None) -> int:
            return dask_worker.state.executing_count

        _wait(lambda: sum(watcher.run(executing).values()) == 0, "the workers to go idle")
    assert not (tmp_path / "sim.json").exists()


def test_dask_is_not_imported_without_a_scheduler(tmp_path: Path) -> None:
    argv = ["sim", str(SCENARIOS / "steady.yaml"), *QUICK, "--workers", "1", "--out", str(tmp_path)]
    code = (
        "import sys; from gateproof.cli import main; "
        f"status = main({argv!r}); "
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'; "
        "sys.exit(status)"
    )
    env = {k: v for k, v in os.environ.items() if k != "GATEPROOF_SCHEDULER"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == EXIT_OK, done.stderr
