"""Whether the tests run in CI: the one rule for reading the ``CI`` variable.

CI services set ``CI=true``; people set ``CI=1`` or ``CI=yes`` by hand. Each is
read the same way (case does not matter), and anything else, unset included,
means a local run. In CI, a missing Docker engine or browser fails a test that
would skip locally.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["CI_VALUES", "in_ci"]

CI_VALUES = frozenset({"1", "true", "yes"})


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``CI`` (in ``environ``, default the process's) says this is a CI run."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() in CI_VALUES
