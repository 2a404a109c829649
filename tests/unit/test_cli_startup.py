"""Every gateproof command builds the whole parser first: that must stay cheap, and sound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_python_dash_m_gateproof_reports_bad_input_with_status_2_and_no_traceback(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.yml"
    done = subprocess.run(
        [sys.executable, "-m", "gateproof", "sim", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "missing.yml" in done.stderr
