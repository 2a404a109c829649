"""Which test a pytest-repeat node id belongs to.

pytest-repeat parametrizes every test with an id ``I-N`` (repetition I of N),
appended after the user's own parameters: ``test_a[3-100]``,
``test_b[fast-3-100]``. A flakiness report groups the repetitions of one test
and must keep the user's parametrization apart, so only that last ``I-N`` is
removed, and only when tests were actually repeated.

Under ``--explore ... --schedules N`` gateproof's plugin runs each test under
N schedules, as ids ``scheduleI`` placed first among the parameters
(``test_a[schedule2-3-100]``); :func:`test_of` removes both, since every
schedule is one more run of the same test.
"""

from __future__ import annotations

import re

_REPEAT_ID = re.compile(r"(?:^|-)(\d+)-(\d+)$")
SCHEDULE_ID = "schedule"  # spelled as gateproof.testing.plugin spells it (a test keeps them equal)
_SCHEDULE_PART = re.compile(rf"^{SCHEDULE_ID}\d+(?:-|$)")


def _split(nodeid: str) -> tuple[str, str] | None:
    """The node id before ``[`` and the parameter id inside the final brackets."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    start = nodeid.find("[", max(nodeid.find("::"), 0))  # a file path holds no "::"
    if start < 0:
        return None
    return nodeid[:start], nodeid[start + 1 : -1]


def _repeat_match(nodeid: str, repeated: bool) -> tuple[str, str, re.Match[str]] | None:
    if not repeated:
        return None
    parts = _split(nodeid)
    if parts is None:
        return None
    base, params = parts
    match = _REPEAT_ID.search(params)
    if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)):
        return None
    return base, params, match


def strip_repetition(nodeid: str, repeated: bool = True) -> str:
    """The node id without pytest-repeat's ``I-N``; ``repeated=False`` keeps it whole.

    >>> strip_repetition("t.py::test_a[fast-3-100]")
    't.py::test_a[fast]'
    >>> strip_repetition("t.py::test_a[3-100]")
    't.py::test_a'
    """
    found = _repeat_match(nodeid, repeated)
    if found is None:
        return nodeid
    base, params, match = found
    rest = params[: match.start()]
    return f"{base}[{rest}]" if rest else base


def repetition(nodeid: str, repeated: bool = True) -> int | None:
    """Which repetition (1-based) a node id is, or None when it carries no repeat id."""
    found = _repeat_match(nodeid, repeated)
    return None if found is None else int(found[2].group(1))


def strip_schedule(nodeid: str) -> str:
    """The node id without the plugin's ``scheduleI`` parameter, if it carries one.

    >>> strip_schedule("t.py::test_a[schedule3-fast]")
    't.py::test_a[fast]'
    """
    parts = _split(nodeid)
    if parts is None:
        return nodeid
    base, params = parts
    rest = _SCHEDULE_PART.sub("", params, count=1)
    if rest == params:
        return nodeid
    return f"{base}[{rest}]" if rest else base


def test_of(nodeid: str, repeated: bool = True) -> str:
    """The test a run belongs to: repetition and schedule ids removed."""
    return strip_schedule(strip_repetition(nodeid, repeated))
