"""deploy/synthetics-ecs.yaml, the scheduled ECS task that runs the suite from inside the VPC: cfn-lint
finds nothing, and its task role holds deploy/iam-policy.json exactly (issue 17). The stack is
created on moto by tests/suite/test_ecs_stack.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "synthetics-ecs.yaml"
POLICY = REPO / "deploy" / "iam-policy.json"
LINT_DEADLINE_S = 120
# What iam-policy.json leaves to be filled in; the template takes it as a parameter without default.
PLACEHOLDERS = {"MediaBucket": "MEDIA-BUCKET"}


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))
    return loaded


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def resolved(value: Any, parameters: dict[str, str]) -> Any:
    """The value with each Fn::Sub of parameters only filled in (what the task role's policy uses)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: parameters[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict):
        return {key: resolved(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, parameters) for item in value]
    return value


def test_cfn_lint_finds_nothing() -> None:
    lint = Path(sys.executable).parent / "cfn-lint"
    run = subprocess.run(
        [str(lint), str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=LINT_DEADLINE_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_task_role_holds_the_shipped_policy_exactly() -> None:
    parameters = template()["Parameters"]
    values = {name: p["Default"] for name, p in parameters.items() if "Default" in p} | PLACEHOLDERS
    [document] = [p["PolicyDocument"] for p in resources("AWS::IAM::Role")["TaskRole"]["Properties"]["Policies"]]
    assert resolved(document, values) == json.loads(POLICY.read_text())
    # The defaults are the names iam-policy.json ships with: the target's (targets/prod.yaml).
    assert "Default" not in parameters["MediaBucket"]


def test_it_runs_the_image_on_an_eventbridge_schedule_labelled_vpc_with_secrets_by_name() -> None:
    [rule] = resources("AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "Schedule"}
    [target] = rule["Properties"]["Targets"]
    assert target["EcsParameters"]["TaskDefinitionArn"] == {"Ref": "TaskDefinition"}
    assert not resources("AWS::Scheduler::Schedule")
    [container] = resources("AWS::ECS::TaskDefinition")["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert {"Name": "SYNTHETICS_VANTAGE", "Value": "vpc"} in container["Environment"]
    secrets = {json.dumps(s["Name"]): s["ValueFrom"] for s in container["Secrets"]}
    assert secrets['"SYNTHETICS_TARGET_YAML"'] == {"Ref": "TargetParameter"}
    assert all(set(value) == {"Ref"} for value in secrets.values()), secrets
    assert resources("AWS::Logs::LogGroup")
