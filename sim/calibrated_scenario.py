"""Write a calibrated scenario: the input file with each function's fitted blocks filled in.

Why ruamel.yaml and not PyYAML (which reads every scenario): a scenario file
is written by hand, with comments that explain its numbers (``# 141 x 0.067
/ 10 = 0.95``); PyYAML drops comments and reorders nothing but loses them all
on a round trip, while ruamel.yaml's round-trip mode keeps comments, key
order and flow style. Only the ``overhead`` and ``hold_overhead`` keys of the
calibrated functions change; the file written is validated as a scenario
before it is written.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from sim.calibrate import Calibration, CalibrationError, Fit

__all__ = ["write_calibrated"]


def write_calibrated(scenario: str | Path, calibrations: Iterable[Calibration], out: Path) -> Path:
    """``scenario`` with the fitted blocks, written to ``out`` (checked as a scenario first)."""
    from ruamel.yaml import YAML, YAMLError
    from ruamel.yaml.comments import CommentedMap

    from scenarios.loading import ScenarioError, load_scenario

    scenario = Path(scenario)
    yaml = YAML()  # round-trip: comments, order and flow style kept
    yaml.width = 120
    try:
        data = yaml.load(scenario.read_text())
    except (OSError, YAMLError) as error:
        raise CalibrationError(f"{scenario}: cannot read the scenario ({error})") from None
    functions = data.get("functions") if isinstance(data, dict) else None
    if not isinstance(functions, dict):
        raise CalibrationError(f"{scenario}: not a scenario (no functions: mapping)")

    def block(fit: Fit) -> CommentedMap:
        mapping = CommentedMap(kind=fit.family)
        for key, value in fit.params.items():
            mapping[key] = float(f"{value:.6g}")
        mapping.fa.set_flow_style()
        return mapping

    for calibration in calibrations:
        spec = functions.get(calibration.function)
        if not isinstance(spec, dict):
            raise CalibrationError(
                f"{scenario}: the run measured function {calibration.function!r}, which this "
                f"scenario does not have; pass the scenario the run used (--scenario)"
            )
        fits = {"overhead": calibration.overhead, "hold_overhead": calibration.hold_overhead}
        for key, fit in fits.items():
            if fit is None:
                continue
            spec[key] = block(fit)
            spec.yaml_add_eol_comment(f"calibrated ({calibration.method})", key)
    text = io.StringIO()
    yaml.dump(data, text)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".tmp")
    staged.write_text(text.getvalue())
    try:
        load_scenario(staged)
    except ScenarioError as error:
        staged.unlink()
        raise CalibrationError(f"the calibrated scenario would be invalid: {error}") from None
    staged.replace(out)
    return out
