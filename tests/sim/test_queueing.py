"""The queueing oracles agree with textbook values and with an independent computation."""

from __future__ import annotations

import math
from typing import NamedTuple

import pytest

from sim.queueing import erlang_c, mmcd, mmck


def erlang_b(servers: int, offered: float) -> float:
    """Blocking probability of M/M/c/c by the standard recursion."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return blocking


class _Numerical(NamedTuple):
    timeout: float  # P(timeout)
    waited: float  # P(wait > 0 and served)
    mean_wait_served: float
    mean_wait_all: float  # timed-out callers count with D


def _volterra_on_grid(
    servers: int, lam: float, mu: float, patience: float, steps: int
) -> _Numerical:
    c_mu = servers * mu
    h = patience / steps
    step_decay = math.exp(-c_mu * h)
    head = [1.0]
    for k in range(1, servers):
        head.append(head[-1] * (lam / mu) / k)
    log_source = math.log(lam * head[-1])
    shift = 0.0  # every running value below is in units of e^shift, so overload cannot overflow
    f = lam * head[-1]
    integral = 0.0  # int_0^x f(v) e^{-c mu (x - v)} dv by the trapezoid rule
    mass, moment = h / 2 * f, 0.0
    implicit = 1 / (1 - lam * h / 2)
    for i in range(1, steps + 1):
        x = i * h
        integral = step_decay * (integral + h / 2 * f)
        f = (math.exp(log_source - c_mu * x - shift) + lam * integral) * implicit
        integral += h / 2 * f
        weight = h / 2 if i == steps else h
        mass += weight * f
        moment += weight * x * f
        if f > 1e100:
            integral, mass, moment = integral / f, mass / f, moment / f
            shift += math.log(f)
            f = 1.0
    beyond = f / c_mu  # for x > D the equation reads f(x) = f(D) e^{-c mu (x - D)}
    norm = math.fsum(head) * math.exp(-shift) + mass + beyond
    timeout = beyond / norm
    return _Numerical(
        timeout, mass / norm, moment / norm / (1 - timeout), moment / norm + patience * timeout
    )


def mmcd_by_volterra(
    servers: int, lam: float, mu: float, patience: float, resolution: float = 0.05
) -> _Numerical:
    """M/M/c+D by solving the offered-wait balance equation numerically.

    f(x) = lam p_{c-1} e^{-c mu x} + lam * int_0^{min(x, D)} f(v) e^{-c mu (x - v)} dv
    is solved on a grid over [0, D] by the trapezoid rule (a Volterra equation
    of the second kind; the exponential kernel lets the running integral be
    carried from one grid point to the next), with no use of its closed-form
    solution. Two grids, h and h/2, are combined by Richardson extrapolation
    (the trapezoid error is a series in h^2).
    """
    steps = max(1000, math.ceil(patience * max(lam, servers * mu) / resolution))
    coarse = _volterra_on_grid(servers, lam, mu, patience, steps)
    fine = _volterra_on_grid(servers, lam, mu, patience, 2 * steps)
    return _Numerical(*((4 * b - a) / 3 for a, b in zip(coarse, fine, strict=True)))


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
    ("servers", "lam", "mu", "patience"),
    [
        (5, 4.0, 1.0, 0.5),
        (5, 6.0, 1.0, 2.0),
        (3, 3.0, 1.0, 1.0),
        (10, 7.0, 1.0, 0.2),
        (5, 5 * (1 - 1e-8), 1.0, 1.0),
        (5, 5 * (1 + 1e-8), 1.0, 1.0),
        (5, 5 * (1 - 1e-4), 1.0, 1.0),
        (5, 5 * (1 + 1e-4), 1.0, 1.0),
        (100, 12000.0, 100.0, 1.0),
        (1, 2.0, 1.0, 800.0),
    ],
    ids=[
        "rho0.8-D0.5",
        "overload-rho1.2-D2",
        "critical-rho1",
        "rho0.7-D0.2",
        "rho1-minus-1e-8",
        "rho1-plus-1e-8",
        "rho1-minus-1e-4",
        "rho1-plus-1e-4",
        "overload-c100-rho1.2-gD-2000",
        "overload-c1-rho2-gD-800",
    ],
)
def test_mmcd_closed_form_agrees_with_a_numerical_solution(
    servers: int, lam: float, mu: float, patience: float
) -> None:
    exact = mmcd(servers, lam, mu, patience)
    numerical = mmcd_by_volterra(servers, lam, mu, patience)
    assert exact.timeout_probability == pytest.approx(numerical.timeout, rel=1e-6)
    assert exact.wait_probability == pytest.approx(numerical.waited, rel=1e-6)
    assert exact.mean_wait_served == pytest.approx(numerical.mean_wait_served, rel=1e-6)
    assert exact.mean_wait_all == pytest.approx(numerical.mean_wait_all, rel=1e-6)


def test_mmcd_in_heavy_overload_serves_at_full_capacity() -> None:
    """Almost every server is always busy: throughput is c mu and the rest time out."""
    result = mmcd(100, 12000.0, 100.0, 1.0)
    assert result.timeout_probability == pytest.approx(1 - 10000 / 12000, rel=1e-9)
    assert result.mean_wait_served == pytest.approx(1.0 - 1 / 2000, rel=1e-9)
