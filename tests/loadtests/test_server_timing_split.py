"""The target's Server-Timing split and the run's batches: parsed, tallied, merged, summarised."""

from __future__ import annotations

import json
import math

import pytest

from loadtests.batch_means import batch_figures, half_widths, run_length_for
from loadtests.server_timing import MAX_NAMES, parse_server_timing
from loadtests.tally import Tally


@pytest.mark.parametrize(
    ("header", "split"),
    [
        ("queue;dur=0.5, hold;dur=12.25, svc;dur=10, gw;dur=0.3",
         {"queue": 0.0005, "hold": 0.01225, "svc": 0.01, "gw": 0.0003}),
        ('db;desc="Database";dur=53, cache;desc=hit', {"db": 0.053}),  # no dur: no time
        ("app;dur=abc, app;dur=4, app;dur=5", {"app": 0.004}),  # the first usable one wins
        ("x;dur=-1, y;dur=nan, z;dur=inf", {}),
        ("", {}),
        (None, {}),
    ],
)  # fmt: skip
def test_a_header_gives_each_names_duration_in_seconds(
    header: str | None, split: dict[str, float]
) -> None:
    assert parse_server_timing(header) == pytest.approx(split)


def test_a_target_cannot_grow_the_split_without_bound() -> None:
    header = ", ".join(f"n{i};dur=1" for i in range(100))
    assert len(parse_server_timing(header)) == MAX_NAMES


def test_splits_and_batches_survive_the_trip_from_worker_to_master() -> None:
    worker = Tally()
    for hold in (0.010, 0.012, 0.014):
        worker.server_timing("echo", {"queue": 0.001, "hold": hold, "svc": 0.010}, 0.020)
    worker.batch("echo", 0, 0.020, None)
    worker.batch("echo", 0, None, "no_capacity")
    worker.batch("echo", 1, 0.040, None)
    sent = json.loads(json.dumps(worker.as_dict()))  # what travels is JSON
    master = Tally()
    master.merge(sent)
    master.merge(sent)
    assert master.timing["echo"]["hold"].count == 6
    assert master.timing["echo"]["hold"].mean == pytest.approx(0.012)
    assert master.timing["echo"]["hold-svc"].mean == pytest.approx(0.002)  # derived per call
    assert master.timing["echo"]["latency-queue-hold"].mean == pytest.approx(0.007)
    figures = batch_figures(master.as_dict()["batches"]["echo"])
    assert [(f["batch"], f["requests"], f["timeout_rate"]) for f in figures] == [
        (0, 4, 0.5),
        (1, 2, 0.0),
    ]
    assert figures[0]["mean"] == pytest.approx(0.020) and figures[1]["p99"] == pytest.approx(
        0.04, rel=1e-3
    )


def test_batch_means_give_a_t_interval_that_shrinks_with_the_run() -> None:
    figures = [
        {"mean": m, "p99": 2 * m, "timeout_rate": 0.0, "error_rate": math.nan}
        for m in (1.0, 2.0, 3.0, 4.0)
    ]
    widths = half_widths(figures)
    # t(0.975, 3) = 3.182; stdev of 1..4 = 1.291; /sqrt(4)
    assert widths["mean"] == pytest.approx(3.182 * 1.2910 / 2, rel=1e-3)
    assert widths["p99"] == pytest.approx(2 * widths["mean"])
    assert widths["timeout_rate"] == 0.0 and widths["error_rate"] is None
    assert run_length_for(2.0, 1.0, 60.0) == pytest.approx(240.0)  # half the width: 4x the run
