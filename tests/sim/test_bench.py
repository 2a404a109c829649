"""`gateproof bench sim` prints its three figures with a verdict each (sizes cut down here)."""

from __future__ import annotations

import re

import pytest

from gateproof.cli import main


def test_bench_sim_prints_the_model_ciw_ratio_plan_time_and_peak_rss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["bench", "sim", "--requests", "4000", "--plan-requests", "400", "--rss-requests", "4000"])
    out = capsys.readouterr().out
    assert re.search(r"gateproof model\s+[\d,]+ req/s", out)
    assert re.search(r"Ciw \S+\s+[\d,]+ req/s", out)
    assert re.search(r"ratio\s+[\d.]+x\s+target >= 1.5x\s+(PASS|FAIL)", out)
    assert re.search(r"wall time\s+[\d.]+ s\s+target < 60 s\s+(PASS|FAIL)", out)
    rss = re.search(r"peak RSS\s+(\d+) MB\s+target < 300 MB\s+(PASS|FAIL)", out)
    assert rss is not None and 10 < int(rss.group(1)) < 300  # a 4000-request run is small


def test_bench_sim_with_a_scheduler_times_the_plan_on_dask_beside_the_process_pool(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "sim", "--requests", "4000", "--plan-requests", "400"]
    main([*argv, "--rss-requests", "4000", "--scheduler", "local:2"])
    out = capsys.readouterr().out
    assert re.search(r"on Dask \(local:2, 2 workers; cluster up in [\d.]+ s\)", out)
    assert re.search(r"Dask / pool\s+[\d.]+x\s+target <= 1.2x\s+(PASS|FAIL)", out)
