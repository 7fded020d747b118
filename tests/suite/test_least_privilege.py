"""deploy/iam-policy.json is enough, and no more (issue 17): proven on the reference deployment's moto
server with IAM enforced.

An IAM user holding only the shipped policy runs every AWS check and sees each pass; a write outside
the canary prefix is denied; with one permission taken away, the checks that need it are skipped
naming it (not a traceback, not a false outage). The shipped policy is translated for moto here, and
only here, where moto differs from AWS (see `for_moto`). The deployment is shared by the tests of one
worker, so enforcement is switched back off and every user made here deleted, whatever happens.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.suite.conftest import REPO, Reference, run_suite

pytestmark = pytest.mark.stack

POLICY = REPO / "deploy" / "iam-policy.json"
PLACEHOLDER_BUCKET = "MEDIA-BUCKET"
# The permission taken away to see its checks skipped, and those checks.
REMOVED = "rds:DescribeDBInstances"
NEEDING_REMOVED = {"aws.rds_available", "aws.rds_free_storage"}
DEADLINE_S = 10.0

# Where moto 5.2.5 authorises a call under another action than AWS (read in moto/core/authorization.py,
# moto/s3/responses.py, checked against its server): the action of a non-S3 call is its signing
# name's (CloudWatch signs as monitoring); S3 asks for s3:ListBucket to read a bucket's public access
# block (its query word is not in moto's action map), and S3 Control for s3:GetPublicAccessBlock.
MOTO_ACTIONS = {
    "cloudwatch:GetMetricStatistics": "monitoring:GetMetricStatistics",
    "s3:GetBucketPublicAccessBlock": "s3:ListBucket",
    "s3:GetAccountPublicAccessBlock": "s3:GetPublicAccessBlock",
}


def shipped_policy() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(POLICY.read_text())
    return document


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    assert any(action in statement["Action"] for statement in policy["Statement"]), action
    statements = []
    for statement in policy["Statement"]:
        kept = [a for a in statement["Action"] if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**policy, "Statement": statements}


def for_moto(policy: dict[str, Any], bucket: str) -> dict[str, Any]:
    """The policy as moto must read it to mean what AWS reads in it. moto matches every non-S3 call
    against the resource `*`, so a statement of non-S3 actions gets `*` (moto cannot prove those
    resources; AWS's ARN formats are parliament's to check, tests/unit/test_iam_policy.py). moto
    evaluates no condition key, and an unmet condition makes it deny outright, so conditions go (the
    s3:prefix condition of the canary listing is AWS's to enforce). The S3 resources stay as shipped,
    the placeholder bucket named: moto does match those, which is what proves the canary prefix."""
    statements = []
    for statement in policy["Statement"]:
        actions = [MOTO_ACTIONS.get(action, action) for action in statement["Action"]]
        translated = {key: value for key, value in statement.items() if key != "Condition"}
        translated["Action"] = sorted(set(actions))
        if all(not action.startswith("s3:") for action in actions):
            translated["Resource"] = "*"
        else:
            translated["Resource"] = json.loads(json.dumps(statement["Resource"]).replace(PLACEHOLDER_BUCKET, bucket))
        statements.append(translated)
    return {**policy, "Statement": statements}


class Moto:
    """The deployment's moto server, as its root (the dummy keys moto accepts while auth is off)."""

    def __init__(self, target: dict[str, Any]) -> None:
        self.endpoint = str(target["aws"]["endpoint_url"])
        parser = configparser.ConfigParser()
        parser.read(target["aws"]["credentials_file"])
        self.root = (parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"])

    def client(self, service: str, keys: tuple[str, str] | None = None) -> Any:
        key_id, secret = keys or self.root
        session = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1")
        config = Config(connect_timeout=2, read_timeout=DEADLINE_S, retries={"total_max_attempts": 1})
        return session.client(service, endpoint_url=self.endpoint, config=config)

    def enforce(self, allowed_unauthenticated: str) -> None:
        # The number of calls moto still lets through unauthenticated: 0 enforces IAM from now on,
        # inf (moto's default) never does.
        response = httpx.post(
            f"{self.endpoint}/moto-api/reset-auth", content=allowed_unauthenticated, timeout=DEADLINE_S, trust_env=False
        )
        response.raise_for_status()


@contextlib.contextmanager
def user_holding(moto: Moto, policy: dict[str, Any], directory: Path) -> Iterator[tuple[Path, tuple[str, str]]]:
    """An IAM user with only this policy: a credentials file with its key, deleted on the way out."""
    iam = moto.client("iam")
    name = f"synthetics-least-privilege-{secrets.token_hex(4)}"
    iam.create_user(UserName=name)
    try:
        iam.put_user_policy(UserName=name, PolicyName="synthetics", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        keys = (key["AccessKeyId"], key["SecretAccessKey"])
        credentials = directory / f"{name}.credentials"
        credentials.write_text(f"[default]\naws_access_key_id = {keys[0]}\naws_secret_access_key = {keys[1]}\n")
        credentials.chmod(0o600)
        yield credentials, keys
    finally:
        for listed in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=listed["AccessKeyId"])
        for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=policy_name)
        iam.delete_user(UserName=name)


@contextlib.contextmanager
def an_ec2_instance(moto: Moto) -> Iterator[dict[str, str]]:
    """The reference deployment runs Synapse on ECS: an instance for aws.ec2_instance_running to read
    (the target's aws.ec2 section naming it by tag), terminated on the way out."""
    ec2 = moto.client("ec2")
    tag = f"synapse-ec2-{secrets.token_hex(4)}"
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": tag}]}],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    try:
        yield {"tag": f"Name={tag}"}
    finally:
        ec2.terminate_instances(InstanceIds=[instance])


def target_with(document: dict[str, Any], credentials: Path, path: Path) -> Path:
    path.write_text(yaml.safe_dump({**document, "aws": {**document["aws"], "credentials_file": str(credentials)}}))
    return path


def aws_check_ids() -> set[str]:
    """Every check of checks/test_aws.py, by id (`aws.` and the test's name without `test_`)."""
    tree = ast.parse((REPO / "checks" / "test_aws.py").read_text())
    return {
        f"aws.{node.name.removeprefix('test_')}"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def aws_checks(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["id"]: check for check in verdict["checks"] if check["id"].startswith("aws.")}


def test_the_shipped_policy_is_all_the_suite_needs(reference: Reference, tmp_path: Path) -> None:
    document = yaml.safe_load(reference.target.read_text())
    moto = Moto(document)
    bucket = document["aws"]["s3"]["media_bucket"]
    prefix = document["aws"]["s3"].get("canary_prefix", "synthetics-canary/")
    # The credentials chain puts the environment before the file: it must not hold other keys.
    assert not {"AWS_ACCESS_KEY_ID", "AWS_PROFILE"} & set(os.environ), "they would win over the credentials file"
    policy = shipped_policy()
    assert f"arn:aws:s3:::{PLACEHOLDER_BUCKET}/{prefix}*" in json.dumps(policy)

    with (
        an_ec2_instance(moto) as ec2,
        user_holding(moto, for_moto(policy, bucket), tmp_path) as (full, keys),
        user_holding(moto, for_moto(without(policy, REMOVED), bucket), tmp_path) as (short, _),
    ):
        moto.enforce("0")
        try:
            # Enforced: moto's own keys are refused now.
            with pytest.raises(ClientError):
                moto.client("ecs").list_clusters()

            every_section = {**document, "aws": {**document["aws"], "ec2": ec2}}
            full_target = target_with(every_section, full, tmp_path / "full.yaml")
            run = run_suite(tmp_path / "full", f"--target={full_target}", "-k", "aws")
            checks = aws_checks(run.verdict)
            assert set(checks) == aws_check_ids(), checks
            assert {c for c, check in checks.items() if check["outcome"] == "passed"} == set(checks), run.output[-4000:]
            assert "denied" not in run.output.lower(), run.output[-4000:]
            assert run.verdict["status"] in ("healthy", "degraded"), run.output[-4000:]

            s3 = moto.client("s3", keys)
            inside = f"{prefix}least-privilege-{secrets.token_hex(4)}.txt"
            s3.put_object(Bucket=bucket, Key=inside, Body=b"x")
            s3.delete_object(Bucket=bucket, Key=inside)
            with pytest.raises(ClientError) as outside:
                s3.put_object(Bucket=bucket, Key=f"least-privilege-{secrets.token_hex(4)}.txt", Body=b"x")
            assert outside.value.response["Error"]["Code"] == "AccessDenied"

            short_target = target_with(document, short, tmp_path / "short.yaml")
            short_run = run_suite(tmp_path / "short", f"--target={short_target}", "-k", "rds")
            skipped = aws_checks(short_run.verdict)
            assert set(skipped) == NEEDING_REMOVED, skipped
            for check in skipped.values():
                assert check["outcome"] == "skipped", short_run.output[-4000:]
                assert (
                    f"AWS denied {REMOVED}" in check["message"]
                    and f"grant the suite's role {REMOVED}" in (check["message"])
                )
            assert short_run.returncode == 0 and short_run.verdict["status"] != "unhealthy", short_run.output[-4000:]
            assert "Traceback" not in short_run.output, short_run.output[-4000:]
        finally:
            moto.enforce("inf")
        # Off again: moto's own keys answer, for the next test of this worker.
        moto.client("ecs").list_clusters()
