"""Scenario files: the shipped ones load, broken ones get precise errors, overrides validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference.gateway.models.function import FunctionEntity
from reference.gateway.models.scaling import ScalingConfig
from scenarios.loading import ScenarioError, load_scenario, parse_scenario
from scenarios.schema import Empirical, Lognormal, Steps
from sim.distributions import arrival_times, rate_segments

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = ["steady", "peak", "spike", "cold-start-storm", "failing-function", "soak"]


def minimal(**changes: object) -> dict:
    data = {
        "name": "t",
        "duration": 10,
        "functions": {"f": {"service": {"kind": "constant", "value": 0.1}}},
        "workload": {"f": {"arrivals": {"kind": "poisson", "rate": 1}}},
    }
    data.update(changes)
    return data


def error_of(tmp_path: Path, text: str, *overrides: str) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides)
    return str(caught.value)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_loads(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert scenario.name == name
    for spec in scenario.functions.values():
        assert type(spec.scaling) is ScalingConfig  # the gateway's own type, not a copy


def test_steady_and_peak_run_at_the_utilisation_their_names_promise() -> None:
    for name, low, high in [("steady", 0.65, 0.75), ("peak", 0.9, 1.0)]:
        scenario = load_scenario(SCENARIOS / f"{name}.yaml")
        for function, spec in scenario.functions.items():
            rate = scenario.workload[function].arrivals.rate
            utilisation = rate * spec.service.mean / spec.scaling.max_capacity
            assert low <= utilisation <= high, (name, function, utilisation)


def test_an_unknown_key_names_the_file_the_path_and_the_allowed_keys(tmp_path: Path) -> None:
    data = "name: t\nduration: 10\nfunctions:\n  f:\n    service: {kind: constant, value: 1}\n"
    data += "    scaling: {max_capacity: 2, min_capacty: 1}\n"
    data += "workload:\n  f:\n    arrivals: {kind: poisson, rate: 1}\n"
    message = error_of(tmp_path, data)
    assert "broken.yaml" in message
    assert "functions.f.scaling.min_capacty: Extra inputs are not permitted" in message
    assert "allowed keys here: max_capacity, min_capacity, acquire_timeout, idle_timeout" in message


def test_an_unknown_distribution_lists_the_allowed_kinds(tmp_path: Path) -> None:
    data = "name: t\nduration: 10\nfunctions:\n  f:\n    service: {kind: weibull, mean: 1}\n"
    data += "workload:\n  f:\n    arrivals: {kind: poisson, rate: 1}\n"
    message = error_of(tmp_path, data)
    assert "functions.f.service:" in message
    assert "'constant', 'exponential', 'lognormal', 'gamma', 'empirical'" in message


def test_a_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "name: t\nduration: [1,\n")
    assert "broken.yaml:3:" in message and "YAML syntax error" in message


def test_the_pool_config_is_validated_by_the_gateway_rules(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"min_capacity \(3\) must not exceed max_capacity"):
        parse_scenario(
            minimal(
                functions={
                    "f": {
                        "scaling": {"max_capacity": 2, "min_capacity": 3},
                        "service": {"kind": "constant", "value": 1},
                    }
                }
            )
        )


def test_workload_and_faults_must_name_known_functions() -> None:
    with pytest.raises(ScenarioError, match="workload names function 'g'"):
        parse_scenario(minimal(workload={"g": {"arrivals": {"kind": "poisson", "rate": 1}}}))
    with pytest.raises(ScenarioError, match="fault names function 'g'"):
        parse_scenario(
            minimal(
                faults=[{"kind": "errors", "function": "g", "start": 0, "duration": 1, "rate": 1}]
            )
        )


def test_lognormal_takes_exactly_one_parametrisation() -> None:
    by_quantiles = Lognormal(kind="lognormal", median=0.05, p99=0.3)
    mu, sigma = by_quantiles.params
    assert Lognormal(kind="lognormal", mu=mu, sigma=sigma).mean == pytest.approx(by_quantiles.mean)
    with pytest.raises(ValueError, match="exactly one pair"):
        Lognormal(kind="lognormal", median=0.05, sigma=0.5)
    with pytest.raises(ValueError, match=r"p99 .* must be above median"):
        Lognormal(kind="lognormal", median=0.3, p99=0.05)


def test_overrides_set_nested_fields_with_yaml_types() -> None:
    scenario = load_scenario(
        SCENARIOS / "steady.yaml",
        ["functions.echo.scaling.max_capacity=20", "seed=9", "slo.p99=0.25"],
    )
    assert scenario.functions["echo"].scaling.max_capacity == 20
    assert scenario.seed == 9
    assert scenario.slo.p99 == 0.25


def test_a_bad_override_is_reported_like_a_bad_file() -> None:
    with pytest.raises(ScenarioError, match=r"functions\.echo\.scaling\.max_capacity: .*integer"):
        load_scenario(SCENARIOS / "steady.yaml", ["functions.echo.scaling.max_capacity=lots"])
    with pytest.raises(ScenarioError, match=r"path\.to\.field=value"):
        load_scenario(SCENARIOS / "steady.yaml", ["no-equals-sign"])
    with pytest.raises(ScenarioError, match="is a value, not a mapping"):
        load_scenario(SCENARIOS / "steady.yaml", ["seed.inner=1"])


def test_data_files_resolve_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "times.txt").write_text("# seconds\n0.1\n0.3\n")
    (tmp_path / "data" / "arrivals.txt").write_text("0.5\n1.0\n2.5\n20\n")
    text = (
        "name: t\nduration: 10\nfunctions:\n  f:\n"
        "    service: {kind: empirical, file: data/times.txt}\n"
        "workload:\n  f:\n    arrivals: {kind: trace, file: data/arrivals.txt}\n"
    )
    (tmp_path / "s.yaml").write_text(text)
    scenario = load_scenario(tmp_path / "s.yaml")
    service = scenario.functions["f"].service
    assert isinstance(service, Empirical) and service.samples() == [0.1, 0.3]
    times = list(arrival_times(scenario.workload["f"].arrivals, 10, None))  # type: ignore[arg-type]
    assert times == [0.5, 1.0, 2.5]  # the one beyond the duration is dropped
    missing = error_of(tmp_path, text.replace("data/times.txt", "data/nope.txt"))
    assert "functions.f.service.empirical.file" in missing and "does not exist" in missing


def test_steps_and_spikes_become_rate_segments() -> None:
    steps = Steps(kind="steps", steps=[{"at": 0, "rate": 1}, {"at": 5, "rate": 3}])
    assert rate_segments(steps, 8) == [(0, 5, 1), (5, 8, 3)]
    spike = load_scenario(SCENARIOS / "spike.yaml").workload["echo"].arrivals
    assert rate_segments(spike, 300) == [(0, 120, 60), (120, 150, 300), (150, 300, 60)]


def test_piecewise_poisson_arrivals_follow_the_rate_of_each_segment() -> None:
    import numpy as np

    steps = Steps(kind="steps", steps=[{"at": 0, "rate": 10}, {"at": 100, "rate": 50}])
    times = np.array(list(arrival_times(steps, 200, np.random.default_rng(5))))
    assert np.all(np.diff(times) >= 0)
    first, second = np.sum(times < 100), np.sum(times >= 100)
    assert 1000 - 4 * 32 < first < 1000 + 4 * 32  # Poisson: sd = sqrt(1000)
    assert 5000 - 4 * 71 < second < 5000 + 4 * 71


def test_a_function_times_out_as_the_gateway_does_unless_the_scenario_says() -> None:
    default = parse_scenario(minimal()).functions["f"].timeout_seconds
    assert default == FunctionEntity(name="f").timeout_seconds == 300
    spec = {"service": {"kind": "constant", "value": 0.1}, "timeout_seconds": 2.5}
    assert parse_scenario(minimal(functions={"f": spec})).functions["f"].timeout_seconds == 2.5
    with pytest.raises(ScenarioError, match="timeout_seconds"):
        parse_scenario(minimal(functions={"f": {**spec, "timeout_seconds": 0}}))


def test_a_data_file_is_parsed_once_until_it_changes(tmp_path: Path) -> None:
    import os

    from scenarios.schema import _parse_numbers

    data = tmp_path / "times.txt"
    data.write_text("0.1\n0.3\n")
    service = Empirical(kind="empirical", file=str(data))
    before = _parse_numbers.cache_info().hits
    assert service.samples() == [0.1, 0.3] and service.samples() == [0.1, 0.3]
    assert _parse_numbers.cache_info().hits == before + 1
    service.samples().append(9.0)  # a caller's copy: the cache is not touched
    assert service.samples() == [0.1, 0.3]
    data.write_text("0.2\nlots\n")
    os.utime(data, ns=(0, 1))  # a new version even where the clock is coarse
    for _ in range(2):  # errors are not cached: the same message every time
        with pytest.raises(ValueError, match=r"times\.txt:2: 'lots' is not a number"):
            service.samples()
