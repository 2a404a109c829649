"""The 95% upper bound on a failure probability (exact, one-sided Clopper-Pearson)."""

import math
from itertools import pairwise

import pytest
from scipy.stats import binom

from reports.binomial import upper_bound


def test_no_failure_in_100_runs_bounds_the_flake_rate_near_3_percent():
    assert upper_bound(0, 100) == pytest.approx(0.0295, abs=5e-5)


@pytest.mark.parametrize("trials", [1, 3, 10, 100, 1000])
def test_zero_failures_match_the_closed_form(trials):
    # With no failure the exact bound solves (1 - p)^n = 0.05.
    assert upper_bound(0, trials) == pytest.approx(1 - 0.05 ** (1 / trials), rel=1e-9)


@pytest.mark.parametrize(
    ("failures", "trials", "expected"),
    [(1, 10, 0.3942), (2, 20, 0.2826), (5, 100, 0.1023), (1, 100, 0.0466)],
)
def test_known_values_from_tables(failures, trials, expected):
    assert upper_bound(failures, trials) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(("failures", "trials"), [(0, 5), (1, 10), (3, 100), (40, 50)])
def test_the_bound_is_where_seeing_that_few_failures_becomes_a_5_percent_event(failures, trials):
    bound = upper_bound(failures, trials)
    assert binom.cdf(failures, trials, bound) == pytest.approx(0.05, abs=1e-9)


def test_more_failures_never_lower_the_bound():
    bounds = [upper_bound(k, 50) for k in range(51)]
    assert all(a < b for a, b in pairwise(bounds))


def test_more_clean_runs_tighten_the_bound():
    bounds = [upper_bound(0, n) for n in (1, 2, 5, 10, 50, 100, 500)]
    assert all(a > b for a, b in pairwise(bounds))


def test_a_higher_confidence_gives_a_wider_bound():
    assert upper_bound(2, 100, 0.99) > upper_bound(2, 100, 0.95) > upper_bound(2, 100, 0.80)


def test_every_run_failing_or_no_run_at_all_proves_nothing():
    assert upper_bound(7, 7) == 1.0
    assert upper_bound(0, 0) == 1.0


def test_the_bound_is_a_probability_and_above_the_observed_rate():
    for failures, trials in [(0, 1), (1, 3), (9, 10), (50, 100)]:
        bound = upper_bound(failures, trials)
        assert failures / trials < bound <= 1.0
        assert not math.isnan(bound)


@pytest.mark.parametrize(
    ("failures", "trials", "confidence"),
    [(-1, 10, 0.95), (11, 10, 0.95), (0, -1, 0.95), (1, 10, 1.0), (1, 10, 0.0)],
)
def test_impossible_inputs_are_refused(failures, trials, confidence):
    with pytest.raises(ValueError):
        upper_bound(failures, trials, confidence)
