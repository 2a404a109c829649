"""Exact results of queueing theory, the oracles the model is tested against.

* Erlang C (M/M/c): probability of waiting, mean wait, wait quantiles.
* M/M/c/K: a finite waiting room, blocking probability and mean wait.
* M/M/c+D: every caller waits at most D (the pool's ``acquire_timeout``) and
  then leaves; probability of timing out and mean wait.

Derivation of M/M/c+D (arrival rate lam, service rate mu, c servers, patience D).
Let V be the *offered wait*: how long a caller arriving now would wait before
a server is free for it, counting only callers who stay. With k < c servers
busy, V = 0 and the states form the usual birth-death chain,
p_k = p_0 a^k / k! (a = lam/mu), for k = 0..c-1. With all c busy, V > 0 has a
density f. V falls at rate 1; a caller arriving at V = v <= D joins and raises
V by an Exp(c mu) amount (one more service completion is needed before the
next caller's turn); a caller arriving at v > D will time out, and since its
turn would come only after it left, it changes nothing (the pool removes it
from the queue at its deadline). From state c-1 an arrival takes the last
server and V jumps to an Exp(c mu) value. Level crossing at x > 0 (down rate =
up rate):

    f(x) = lam p_{c-1} e^{-c mu x} + lam \\int_0^{min(x,D)} f(v) e^{-c mu (x-v)} dv.

Differentiating for x < D gives f' = -(c mu - lam) f, so with g = c mu - lam,
f(x) = lam p_{c-1} e^{-g x} on [0, D], and for x > D only the decay remains:
f(x) = f(D) e^{-c mu (x-D)}. Normalising p_0..p_{c-1} and f to 1, PASTA gives

    P(timeout) = \\int_D^inf f = lam p_{c-1} e^{-g D} / (c mu),
    P(wait > 0, served) = lam p_{c-1} (1 - e^{-g D}) / g,
    E[wait; served] = lam p_{c-1} (1 - e^{-g D}(1 + g D)) / g^2,

valid for any load (g may be negative: overload); at g = 0 the limits are D
and D^2/2. A caller that times out waits exactly D. As written these forms
cancel catastrophically near g = 0 and overflow in heavy overload (-gD > 709);
:func:`mmcd` evaluates them in a stable form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "NO_TIMEOUT",
    "ErlangC",
    "MMcD",
    "MMcK",
    "erlang_c",
    "mmcd",
    "mmck",
]

NO_TIMEOUT = 1e12  # an acquire timeout no run reaches: callers wait as long as it takes


def _birth_death_head(servers: int, offered: float) -> list[float]:
    """Unnormalised p_k = a^k / k! for k = 0..servers-1, computed without overflow."""
    terms = [1.0]
    for k in range(1, servers):
        terms.append(terms[-1] * offered / k)
    return terms


@dataclass(frozen=True)
class ErlangC:
    wait_probability: float
    mean_wait: float
    decay: float  # c mu - lam: P(W > t) = wait_probability e^{-decay t}

    def wait_quantile(self, q: float) -> float:
        """The q-quantile of the wait of all callers (0 when q <= 1 - P(wait))."""
        if q <= 1 - self.wait_probability:
            return 0.0
        return math.log(self.wait_probability / (1 - q)) / self.decay

    def wait_exceeds(self, t: float) -> float:
        return self.wait_probability * math.exp(-self.decay * t)


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> ErlangC:
    """M/M/c with unlimited patience; needs utilisation below 1."""
    offered = arrival_rate / service_rate
    rho = offered / servers
    if rho >= 1:
        raise ValueError(f"utilisation {rho:.3f} >= 1: the queue grows without bound")
    head = _birth_death_head(servers, offered)
    tail = head[-1] * offered / servers / (1 - rho)  # a^c / c! / (1 - rho)
    probability = tail / (sum(head) + tail)
    decay = servers * service_rate - arrival_rate
    return ErlangC(probability, probability / decay, decay)


@dataclass(frozen=True)
class MMcK:
    blocking_probability: float
    mean_queue: float
    mean_wait: float  # of admitted callers
    wait_probability: float  # of admitted callers


def mmck(servers: int, capacity: int, arrival_rate: float, service_rate: float) -> MMcK:
    """M/M/c/K: at most ``capacity`` callers in the system (in service + waiting)."""
    if capacity < servers:
        raise ValueError(f"capacity {capacity} must be at least servers {servers}")
    offered = arrival_rate / service_rate
    p = [1.0]
    for n in range(1, capacity + 1):
        p.append(p[-1] * offered / min(n, servers))
    norm = sum(p)
    p = [x / norm for x in p]
    blocking = p[capacity]
    mean_queue = sum((n - servers) * p[n] for n in range(servers, capacity + 1))
    admitted = arrival_rate * (1 - blocking)
    waiting = sum(p[servers:capacity]) / (1 - blocking)
    return MMcK(blocking, mean_queue, mean_queue / admitted, waiting)


@dataclass(frozen=True)
class MMcD:
    timeout_probability: float
    wait_probability: float  # waited and was served, over all callers
    mean_wait_served: float  # mean wait of served callers (zero waits included)
    mean_wait_all: float  # timed-out callers count with D

    @property
    def served_wait_probability(self) -> float:
        """P(wait > 0) among served callers."""
        return self.wait_probability / (1 - self.timeout_probability)


def mmcd(servers: int, arrival_rate: float, service_rate: float, patience: float) -> MMcD:
    """M/M/c+D: every caller leaves after waiting ``patience``; any load (see module docstring).

    With x = g D the closed forms are computed without cancellation near g = 0
    (``expm1`` and a Taylor series) and, in overload (x < 0), with e^{-gD}
    factored out of the offered-wait masses and the normaliser alike, so a
    heavily overloaded pool neither overflows nor loses precision.
    """
    lam, c, d = arrival_rate, servers, patience
    head = _birth_death_head(c, lam / service_rate)
    c_mu = c * service_rate
    x = (c_mu - lam) * d
    if x >= 0:
        # masses as they are: served on [0, D], timed out beyond D
        served_mass = d * _served_shape(x)
        wait_moment = d * d * _moment_shape(x)
        timeout_mass = math.exp(-x) / c_mu
        head_mass = math.fsum(head)
    else:
        # overload: every mass (and the head) divided by e^{-x} = e^{|x|} > 1
        served_mass = d * _served_shape(-x)  # (1 - e^{x}) / |g|
        wait_moment = d * d * _overload_moment_shape(x)  # e^{x} (1 - e^{-x}(1 + x)) / g^2
        timeout_mass = 1 / c_mu
        head_mass = math.fsum(head) * math.exp(x)  # may underflow to 0: it is negligible then
    scale = lam * head[-1]  # f(0) = lam p_{c-1}, in units of p_0
    norm = head_mass + scale * (served_mass + timeout_mass)
    timeout = scale * timeout_mass / norm
    waited = scale * served_mass / norm
    moment = scale * wait_moment / norm
    return MMcD(
        timeout_probability=timeout,
        wait_probability=waited,
        mean_wait_served=moment / (1 - timeout),
        mean_wait_all=moment + d * timeout,
    )


_SERIES_BELOW = 1e-3  # |x| below which the shapes use their Taylor series


def _served_shape(x: float) -> float:
    """(1 - e^{-x}) / x, 1 at x = 0."""
    if x == 0:
        return 1.0
    return -math.expm1(-x) / x


def _moment_shape(x: float) -> float:
    """(1 - e^{-x} (1 + x)) / x^2 for x >= 0, 1/2 at x = 0."""
    if x < _SERIES_BELOW:
        # sum over n >= 2 of (-1)^n (n - 1) / n! x^(n-2); the next term is below 1e-17
        return 0.5 - x / 3 + x * x / 8 - x**3 / 30 + x**4 / 144
    return (-math.expm1(-x) - x * math.exp(-x)) / (x * x)


def _overload_moment_shape(x: float) -> float:
    """(e^{x} - 1 - x) / x^2 for x < 0: the moment shape times e^{x}, which cannot overflow."""
    if -x < _SERIES_BELOW:
        return 0.5 + x / 6 + x * x / 24 + x**3 / 120 + x**4 / 720
    return (math.expm1(x) - x) / (x * x)
