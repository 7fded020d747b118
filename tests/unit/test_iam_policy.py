"""deploy/iam-policy.json: the permissions the suite needs, in AWS's names, linted, and no more
than the calls the suite makes (issue 17). Its proof on an IAM-enforcing moto is
tests/suite/test_least_privilege.py."""

from __future__ import annotations

import functools
import json
import pickle
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.exceptions
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from parliament import analyze_policy_string

from synthetics.aws import PERMISSIONS, AwsAccess, AwsDenied, error_code
from synthetics.target import AwsSettings

POLICY = Path(__file__).resolve().parents[2] / "deploy" / "iam-policy.json"
CANARY_OBJECTS = "arn:aws:s3:::MEDIA-BUCKET/synthetics-canary/*"
READ_VERBS = ("Describe", "Get", "List", "Filter")


def statements() -> list[dict[str, Any]]:
    document: dict[str, Any] = json.loads(POLICY.read_text())
    assert document["Version"] == "2012-10-17"
    listed: list[dict[str, Any]] = document["Statement"]
    return listed


def test_parliament_finds_nothing_with_its_community_auditors_too() -> None:
    policy = analyze_policy_string(POLICY.read_text(), include_community_auditors=True)
    assert [(f.issue, f.detail, f.location) for f in policy.findings] == []


def test_it_grants_exactly_the_actions_of_the_calls_the_suite_makes() -> None:
    granted = [action for statement in statements() for action in statement["Action"]]
    assert len(granted) == len(set(granted)), "an action is granted twice"
    assert set(granted) == set(PERMISSIONS.values())


def test_only_allows_and_writes_only_under_the_canary_prefix() -> None:
    for statement in statements():
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        for action in statement["Action"]:
            verb = action.split(":", 1)[1]
            if not verb.startswith(READ_VERBS):
                # The one write the suite makes, and the canary's own clean-up.
                assert action in ("s3:PutObject", "s3:DeleteObject"), action
                assert statement["Resource"] == CANARY_OBJECTS, statement
            if action == "s3:GetObject":
                assert statement["Resource"] == CANARY_OBJECTS, statement
            if action == "s3:ListBucket":
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["synthetics-canary/*"]}}, statement


def test_a_denial_crosses_processes_whole_naming_its_action() -> None:
    response = {"Error": {"Code": "AccessDeniedException", "Message": "no"}, "ResponseMetadata": {}}
    denied = pickle.loads(pickle.dumps(AwsDenied(response, "DescribeServices", "ecs:DescribeServices")))
    assert isinstance(denied, AwsDenied)
    assert (denied.action, denied.operation_name, error_code(denied)) == (
        "ecs:DescribeServices",
        "DescribeServices",
        "AccessDeniedException",
    )


@functools.cache
def access() -> AwsAccess:
    # One session and its clients for every case: making a client loads its service's model (slow).
    session = boto3.Session(aws_access_key_id="unit", aws_secret_access_key="unit", region_name="us-east-1")
    return AwsAccess(AwsSettings(region="us-east-1"), session, Config(region_name="us-east-1"))


def refused(service: str, operation: str, code: str, status: int, **params: Any) -> BaseException:
    """What a client of the suite raises when AWS answers the call with this error (stubbed, no network)."""
    client = access().client(service)
    with Stubber(client) as stub:
        stub.add_client_error(
            botocore.xform_name(operation), service_error_code=code, http_status_code=status, expected_params=params
        )
        try:
            getattr(client, botocore.xform_name(operation))(**params)
        except botocore.exceptions.ClientError as error:
            return error  # type: ignore[no-any-return]  # botocore ships no hints
    raise AssertionError(f"{operation} was not refused")


@pytest.mark.parametrize(
    ("service", "operation", "code", "params", "action"),
    [
        ("ecs", "DescribeServices", "AccessDeniedException", {"services": ["s"]}, "ecs:DescribeServices"),
        ("ec2", "DescribeInstances", "UnauthorizedOperation", {}, "ec2:DescribeInstances"),
        ("cloudwatch", "ListMetrics", "AccessDenied", {}, "cloudwatch:ListMetrics"),
        ("s3", "ListObjectsV2", "AccessDenied", {"Bucket": "b"}, "s3:ListBucket"),
        ("s3control", "GetPublicAccessBlock", "", {"AccountId": "123456789012"}, "s3:GetAccountPublicAccessBlock"),
    ],
)
def test_a_call_refused_for_want_of_a_permission_names_the_iam_action(
    service: str, operation: str, code: str, params: dict[str, Any], action: str
) -> None:
    error = refused(service, operation, code, 403, **params)
    assert isinstance(error, AwsDenied) and error.action == action
    # What the code that judges refusals itself reads is unchanged.
    assert error_code(error) == (code or "403")


@pytest.mark.parametrize(
    ("code", "status"), [("ExpiredToken", 403), ("InvalidClientTokenId", 403), ("Throttling", 400)]
)
def test_other_refusals_are_not_a_missing_permission(code: str, status: int) -> None:
    error = refused("ecs", "DescribeServices", code, status, services=["s"])
    assert not isinstance(error, AwsDenied) and error_code(error) == code
