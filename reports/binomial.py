"""How sure a run of N repetitions lets us be about a test's failure probability.

A test that passed 100 runs out of 100 may still fail one run in fifty; what
the runs do prove is an upper bound. We use the exact one-sided Clopper-Pearson
bound because it holds for any number of runs, including the small counts
(and the zero-failure case) where the normal approximation is badly wrong.
"""

from __future__ import annotations

from scipy.stats import beta


def upper_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """The one-sided upper confidence bound on the failure probability.

    ``upper_bound(0, 100)`` is about 0.0295: after 100 clean runs the flake
    rate is below 2.95% at 95% confidence. With no trials nothing is known
    and the bound is 1.
    """
    if trials < 0 or not 0 <= failures <= trials:
        raise ValueError(f"need 0 <= failures <= trials, got {failures} of {trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if failures == trials:
        return 1.0
    return float(beta.ppf(confidence, failures + 1, trials - failures))
