"""``FailureWatch``: a run stops when nearly every call fails for a whole window, not before."""

from __future__ import annotations

from loadtests.early_stop import FailureWatch


def feed(watch: FailureWatch, samples: list[tuple[float, int, int]]) -> list[str | None]:
    return [watch.observe(t, calls, failures) for t, calls, failures in samples]


def test_a_window_of_nearly_all_failures_stops_the_run_once_it_is_long_enough() -> None:
    watch = FailureWatch(window_s=10, share=0.95, min_calls=20)
    verdicts = feed(watch, [(t, 10 * t, 10 * t) for t in range(0, 12)])
    assert verdicts[:10] == [None] * 10  # under 10 s of failures: not yet
    assert verdicts[10] is not None and "100 of 100 calls" in verdicts[10]


def test_failures_below_the_share_or_too_few_calls_never_stop_it() -> None:
    mostly = FailureWatch(window_s=5, share=0.95, min_calls=20)
    assert feed(mostly, [(t, 10 * t, 9 * t) for t in range(0, 30)]) == [None] * 30  # 90%
    quiet = FailureWatch(window_s=5, share=0.95, min_calls=20)
    assert feed(quiet, [(t, t, t) for t in range(0, 30)]) == [None] * 30  # 5 calls a window


def test_calls_that_recover_within_the_window_keep_the_run_going() -> None:
    watch = FailureWatch(window_s=10, share=0.95, min_calls=20)
    failing = [(t, 10 * t, 10 * t) for t in range(0, 8)]
    recovered = [(t, 10 * t, 70 + (t - 7)) for t in range(8, 30)]  # one failure a second
    assert feed(watch, failing + recovered) == [None] * 30


def test_totals_that_restart_after_the_warm_up_start_a_new_window() -> None:
    watch = FailureWatch(window_s=10, share=0.95, min_calls=20)
    feed(watch, [(t, 10 * t, 10 * t) for t in range(0, 9)])
    restarted = feed(watch, [(9 + t, 10 * t, 10 * t) for t in range(0, 10)])
    assert restarted == [None] * 10  # 9 s since the restart: not a whole window yet
    assert watch.observe(19, 100, 100) is not None
