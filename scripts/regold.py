"""Re-record the gateway's wire golden file (tests/gateway/golden/wire.json).

The one way to rewrite it: a test run always compares. Run it after an
intended change to what the gateway sends, then review the file's diff like
code before committing it::

    ./dev regold               # or: python scripts/regold.py
    git diff tests/gateway/golden/wire.json
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

GATEWAY_TESTS = Path(__file__).resolve().parents[1] / "tests" / "gateway"


def main() -> int:
    """Record every case into the golden file; print where it went."""
    sys.path.insert(0, str(GATEWAY_TESTS))
    import test_gateway_wire_golden as wire  # the cases and how they are recorded

    logging.getLogger().addHandler(logging.NullHandler())  # the 500 case logs its error
    with tempfile.TemporaryDirectory(prefix="gateproof-regold-") as directory:
        wire.store(asyncio.run(wire.record_cases(Path(directory))))
    golden = wire.GOLDEN.relative_to(GATEWAY_TESTS.parents[1])
    print(f"re-recorded {len(wire.CASES)} cases into {golden}; review: git diff {golden}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
