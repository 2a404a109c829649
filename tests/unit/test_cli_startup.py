"""Every gateproof command builds the whole parser first: that must stay cheap."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("asyncio", "fastapi", "httpx", "numpy", "psutil", "pytest", "simpy", "uvicorn")


def test_building_the_parser_imports_none_of_the_heavy_packages() -> None:
    script = (
        "import sys\n"
        "from gateproof.cli import build_parser\n"
        "build_parser()\n"
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == [], f"imported at start-up: {done.stdout.strip()}"
