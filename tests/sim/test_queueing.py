"""The queueing oracles agree with textbook values and with an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.queueing import erlang_c, mmcd, mmck


def erlang_b(servers: int, offered: float) -> float:
    """Blocking probability of M/M/c/c by the standard recursion."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return blocking


def mmcd_by_volterra(
    servers: int, lam: float, mu: float, patience: float, steps: int = 3000
) -> tuple[float, float]:
    """P(timeout) and E[wait | served] by solving the offered-wait balance equation numerically.

    f(x) = lam p_{c-1} e^{-c mu x} + lam * int_0^{min(x, D)} f(v) e^{-c mu (x - v)} dv
    is solved on a grid by the trapezoid rule (a Volterra equation of the second
    kind), with no use of its closed-form solution.
    """
    c_mu = servers * mu
    tail = 30.0 / c_mu
    h = (patience + tail) / steps
    x = np.arange(steps + 1) * h
    inside = x <= patience + 1e-12
    head = [1.0]
    for k in range(1, servers):
        head.append(head[-1] * (lam / mu) / k)
    source = lam * head[-1] * np.exp(-c_mu * x)
    f = np.zeros_like(x)
    for i in range(steps + 1):
        js = np.arange(i + 1)
        weights = np.full(i + 1, h)
        weights[0] = weights[-1] = h / 2
        weights = weights * inside[js]
        kernel = lam * np.exp(-c_mu * (x[i] - x[js]))
        known = np.dot(weights[:-1] * kernel[:-1], f[:i]) if i else 0.0
        f[i] = (source[i] + known) / (1 - weights[-1] * kernel[-1])
    trapezoid = np.full(steps + 1, h)
    trapezoid[0] = trapezoid[-1] = h / 2
    mass_in = np.dot(trapezoid * inside, f)
    mass_out = np.dot(trapezoid * ~inside, f) + f[-1] / c_mu  # what lies beyond the grid
    moment_in = np.dot(trapezoid * inside, x * f)
    norm = sum(head) + mass_in + mass_out
    timeout = mass_out / norm
    return timeout, (moment_in / norm) / (1 - timeout)


def test_erlang_c_matches_the_textbook_value_for_m_m_5_at_0_8() -> None:
    result = erlang_c(5, 4.0, 1.0)
    assert result.wait_probability == pytest.approx(0.554113, abs=1e-6)
    assert result.mean_wait == pytest.approx(0.554113, abs=1e-6)  # C / (c mu - lam)


def test_erlang_c_wait_quantile_inverts_the_tail() -> None:
    result = erlang_c(5, 4.0, 1.0)
    assert result.wait_quantile(0.3) == 0.0  # 45% of callers do not wait at all
    t = result.wait_quantile(0.99)
    assert result.wait_exceeds(t) == pytest.approx(0.01)


def test_erlang_c_refuses_an_unstable_queue() -> None:
    with pytest.raises(ValueError, match="utilisation"):
        erlang_c(5, 6.0, 1.0)


def test_mmck_with_one_place_is_erlang_b() -> None:
    assert mmck(3, 3, 2.5, 1.0).blocking_probability == pytest.approx(erlang_b(3, 2.5))


def test_mmck_with_a_huge_room_tends_to_erlang_c() -> None:
    finite = mmck(5, 500, 4.0, 1.0)
    exact = erlang_c(5, 4.0, 1.0)
    assert finite.blocking_probability < 1e-12
    assert finite.mean_wait == pytest.approx(exact.mean_wait, rel=1e-9)
    assert finite.wait_probability == pytest.approx(exact.wait_probability, rel=1e-9)


def test_mm1k_matches_its_closed_form() -> None:
    rho, k = 0.9, 10
    expected = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    assert mmck(1, k, 0.9, 1.0).blocking_probability == pytest.approx(expected)


def test_mmcd_with_endless_patience_is_erlang_c() -> None:
    patient = mmcd(5, 4.0, 1.0, 1e6)
    exact = erlang_c(5, 4.0, 1.0)
    assert patient.timeout_probability < 1e-12
    assert patient.wait_probability == pytest.approx(exact.wait_probability)
    assert patient.mean_wait_served == pytest.approx(exact.mean_wait)


def test_mmcd_with_no_patience_is_erlang_b() -> None:
    impatient = mmcd(5, 4.0, 1.0, 1e-12)
    assert impatient.timeout_probability == pytest.approx(erlang_b(5, 4.0), rel=1e-9)


@pytest.mark.parametrize(
    ("servers", "lam", "patience"),
    [(5, 4.0, 0.5), (5, 6.0, 2.0), (3, 3.0, 1.0), (10, 7.0, 0.2)],
    ids=["rho0.8-D0.5", "overload-rho1.2-D2", "critical-rho1", "rho0.7-D0.2"],
)
def test_mmcd_closed_form_agrees_with_a_numerical_solution(
    servers: int, lam: float, patience: float
) -> None:
    exact = mmcd(servers, lam, 1.0, patience)
    timeout, wait = mmcd_by_volterra(servers, lam, 1.0, patience)
    assert exact.timeout_probability == pytest.approx(timeout, rel=2e-3)
    assert exact.mean_wait_served == pytest.approx(wait, rel=2e-3)


def test_mmcd_mean_wait_of_all_callers_counts_timeouts_as_the_full_patience() -> None:
    result = mmcd(5, 6.0, 1.0, 2.0)
    served = 1 - result.timeout_probability
    assert result.mean_wait_all == pytest.approx(
        result.mean_wait_served * served + 2.0 * result.timeout_probability
    )
    assert math.isfinite(result.mean_wait_all)
