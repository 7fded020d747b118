"""The evidence plan's parts: typed probes, each run once."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from synthetics.probe import Prober
from synthetics.survey import Probe, ProbeInputs, RunSettings, Survey, UnplannedProbe
from synthetics.target import parse_target

TARGET = parse_target(
    {"name": "t", "homeserver": {"base_url": "https://chat.example.org", "server_name": "example.org"}},
    source="t.yaml",
    base_dir=Path("/"),
    environ={},
)
SETTINGS = RunSettings(since=datetime.now(UTC), wait_stable_s=0.0)
# No probe here makes a request: the prober is never touched.
NO_PROBER = cast(Prober, None)


def _survey(*probes: Probe[Any]) -> Survey:
    return Survey(probes, TARGET, NO_PROBER, SETTINGS)


RUNS: list[str] = []


def _count(_inputs: ProbeInputs) -> int:
    RUNS.append("counted")
    return len(RUNS)


COUNTED = Probe("counted", int, _count)
READER = Probe("reader", str, lambda i: f"read {i.result(COUNTED)}", reads=(COUNTED,))
SNEAKY = Probe("sneaky", str, lambda i: f"read {i.result(COUNTED)}")  # reads without declaring it
WRONG_TYPE = Probe("wrong", int, lambda _i: cast(int, "not an int"))


def test_each_probe_runs_once_and_reads_what_it_declares() -> None:
    RUNS.clear()
    survey = _survey(READER)  # the plan takes in what its probes read
    assert survey.plan == {READER, COUNTED}
    assert [survey.result(READER), survey.result(READER), survey.result(COUNTED)] == ["read 1", "read 1", 1]
    assert RUNS == ["counted"]


def test_a_probe_outside_the_plan_is_an_error_not_a_skip() -> None:
    survey = _survey(COUNTED)
    with pytest.raises(UnplannedProbe, match="reader is not in this run's plan"):
        survey.result(READER)
    with pytest.raises(UnplannedProbe, match="does not declare it"):
        _survey(SNEAKY, COUNTED).result(SNEAKY)
    with pytest.raises(TypeError, match="gave a str, not the int it declares"):
        _survey(WRONG_TYPE).result(WRONG_TYPE)


def test_what_a_probe_needs_of_the_target_is_the_skip_reason() -> None:
    def needs(section: str) -> Probe[str]:
        return Probe("p", str, lambda _i: "", section=section)

    assert needs("aws.ecs").unavailable(TARGET) == "aws.ecs is not set in t.yaml"
    assert needs("homeserver.base_url").unavailable(TARGET) is None
    admin = Probe("a", str, lambda _i: "", credential="admin")
    assert admin.unavailable(TARGET) == "no admin token: set credentials.admin_token_env in t.yaml"
    reading = Probe("r", str, lambda _i: "", reads=(needs("canary"),))
    assert reading.unavailable(TARGET) == "canary is not set in t.yaml"


def test_probe_inputs_give_the_target_and_settings() -> None:
    probe = Probe("inputs", str, lambda i: f"{i.target.name} since {i.settings.since:%Y}")
    assert _survey(probe).result(probe) == f"t since {SETTINGS.since:%Y}"
