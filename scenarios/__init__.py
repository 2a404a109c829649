"""Scenario files: one YAML file drives the simulator and the load tests.

``schema`` says what a file may hold (validation lives there only); ``loading``
reads a file, applies ``--set`` overrides and turns errors into messages that
name the file and the field::

    from scenarios import load_scenario
    scenario = load_scenario("scenarios/steady.yaml", ["functions.echo.scaling.max_capacity=12"])
"""

from scenarios.loading import ScenarioError, load_scenario, parse_scenario
from scenarios.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_scenario"]
