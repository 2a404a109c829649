"""`gateproof sim calibrate LOAD_DIR`: a call's overhead measured from a load run's own files."""

from __future__ import annotations

import json
from pathlib import Path

from gateproof.cli import main


def _load_json(folder: Path, functions: dict[str, object]) -> Path:
    folder.mkdir()
    (folder / "load.json").write_text(json.dumps({"version": 1, "functions": functions}))
    return folder


def test_calibrate_prints_each_functions_overhead_block(tmp_path: Path, capsys: object) -> None:
    out = _load_json(
        tmp_path / "run",
        {
            "echo": {"time_outside_worker": {"median": 0.0031, "samples": 4000}},
            "resize": {"time_outside_worker": {"median": 0.0042, "samples": 900}},
        },
    )
    assert main(["sim", "calibrate", str(out)]) == 0
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "overhead: {kind: constant, value: 0.0031}" in printed
    assert "overhead: {kind: constant, value: 0.0042}" in printed
    assert "4000 calls of echo; paste under functions.echo" in printed


def test_a_run_against_staging_has_no_overhead_to_calibrate(tmp_path: Path, capsys: object) -> None:
    out = _load_json(
        tmp_path / "run", {"echo": {"time_outside_worker": {"median": None, "samples": 0}}}
    )
    assert main(["sim", "calibrate", str(out / "load.json")]) == 2
    assert "against --target local" in capsys.readouterr().err  # type: ignore[attr-defined]
