"""deploy/iam-policy.json: the permissions the suite needs, in AWS's names, linted, and no more
than the calls the suite makes (issue 17). Its proof on an IAM-enforcing moto is
tests/suite/test_least_privilege.py."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string

from synthetics.aws import PERMISSIONS, AwsDenied, error_code

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
