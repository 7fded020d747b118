"""deploy/synthetics-ecs.yaml creates its stack on the reference deployment's moto server (its
CloudFormation), and the resources it made are the ones the template means (issue 17).

moto 5.2.5's CloudFormation drops some properties it does not model (seen here): the task
definition's roles, network mode, compatibilities and CPU, and the rule target's network
configuration; those are cfn-lint's to check against AWS's schema (tests/unit/test_ecs_template.py).
It returns an inline role policy as Python's repr of it, not JSON. It leaves the task definition
ACTIVE when the stack is deleted: the test deregisters it, so the shared deployment keeps nothing.
"""

from __future__ import annotations

import ast
import json
import secrets
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.suite.conftest import REPO, Reference

pytestmark = pytest.mark.stack

TEMPLATE = REPO / "deploy" / "synthetics-ecs.yaml"
POLICY = REPO / "deploy" / "iam-policy.json"
IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/synapse-synthetics@sha256:{'a' * 64}"


def clients(target: dict[str, Any]) -> Any:
    aws = target["aws"]
    credentials = dict(
        line.split(" = ", 1) for line in Path(aws["credentials_file"]).read_text().splitlines() if " = " in line
    )
    session = boto3.Session(
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        region_name=aws["region"],
    )
    config = Config(connect_timeout=2, read_timeout=30, retries={"total_max_attempts": 2})
    return lambda service: session.client(service, endpoint_url=aws["endpoint_url"], config=config)


def policy_document(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return ast.literal_eval(value)  # moto's repr of the document
    return value


def test_the_stack_is_created_with_the_task_its_role_its_schedule_and_its_log_group(
    reference: Reference,
) -> None:
    document = yaml.safe_load(reference.target.read_text())
    client = clients(document)
    cloudformation = client("cloudformation")
    bucket = document["aws"]["s3"]["media_bucket"]
    name = f"synapse-synthetics-{secrets.token_hex(3)}"
    parameters = {
        "Image": IMAGE,
        "Subnets": "subnet-0123456789abcdef0",
        "SecurityGroups": "sg-0123456789abcdef0",
        "MediaBucket": bucket,
    }
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    made: dict[str, str] = {}
    try:
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack
        made = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
        }
        assert set(made) == {"LogGroup", "ExecutionRole", "TaskRole", "TaskDefinition", "ScheduleRole", "ScheduleRule"}

        [container] = client("ecs").describe_task_definition(taskDefinition=made["TaskDefinition"])["taskDefinition"][
            "containerDefinitions"
        ]
        assert container["image"] == IMAGE and container["user"] == "10001:10001"
        assert {"name": "SYNTHETICS_VANTAGE", "value": "vpc"} in container["environment"]
        assert {"name": "SYNAPSE_MEDIA_BUCKET", "value": bucket} in container["environment"]
        # The target and the secrets by name, read from SSM Parameter Store when the task starts.
        assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
            "SYNTHETICS_TARGET_YAML": "/synapse-synthetics/target",
            "SYNAPSE_ADMIN_TOKEN": "/synapse-synthetics/admin-token",
            "SYNTHETICS_CANARY_TOKEN": "/synapse-synthetics/canary-token",
            "SYNTHETICS_DB_DSN": "/synapse-synthetics/database-dsn",
        }
        assert container["logConfiguration"]["options"]["awslogs-group"] == made["LogGroup"]
        groups = client("logs").describe_log_groups(logGroupNamePrefix=made["LogGroup"])["logGroups"]
        assert [g["logGroupName"] for g in groups] == [made["LogGroup"]]

        iam = client("iam")
        shipped = json.loads(POLICY.read_text().replace("MEDIA-BUCKET", bucket))
        granted = iam.get_role_policy(RoleName=made["TaskRole"], PolicyName="synapse-synthetics")["PolicyDocument"]
        assert policy_document(granted) == shipped
        trust = policy_document(iam.get_role(RoleName=made["TaskRole"])["Role"]["AssumeRolePolicyDocument"])
        assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}

        events = client("events")
        rule = events.describe_rule(Name=made["ScheduleRule"])
        assert (rule["ScheduleExpression"], rule["State"]) == ("rate(15 minutes)", "ENABLED")
        [target] = events.list_targets_by_rule(Rule=made["ScheduleRule"])["Targets"]
        assert target["Arn"].endswith(":cluster/phenom-prod-cluster")
        assert target["EcsParameters"]["TaskDefinitionArn"] == made["TaskDefinition"]
        assert target["RoleArn"].endswith(f"/{made['ScheduleRole']}")
    finally:
        cloudformation.delete_stack(StackName=name)
        if "TaskDefinition" in made:
            client("ecs").deregister_task_definition(taskDefinition=made["TaskDefinition"])
    assert not client("events").list_rules(NamePrefix=name)["Rules"]
    assert not client("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{name}")["logGroups"]
