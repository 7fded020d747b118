"""Synapse on EC2 instead of ECS: the instance must run and pass its status checks (moto's EC2)."""

from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.suite.conftest import Reference, run_suite

pytestmark = pytest.mark.stack


def test_the_ec2_instance_is_checked_when_the_target_names_it(reference: Reference, tmp_path: Path) -> None:
    document = yaml.safe_load(reference.target.read_text())
    ec2 = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1").client(
        "ec2", endpoint_url=document["aws"]["endpoint_url"], config=Config(connect_timeout=2, read_timeout=5)
    )
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "synapse-ec2"}]}],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    try:
        document["aws"]["ec2"] = {"tag": "Name=synapse-ec2"}
        target = tmp_path / "ec2.yaml"
        target.write_text(yaml.safe_dump(document))
        running = run_suite(tmp_path / "running", f"--target={target}", "-k", "ec2")
        assert {c["id"]: c["outcome"] for c in running.verdict["checks"]} == {"aws.ec2_instance_running": "passed"}

        ec2.stop_instances(InstanceIds=[instance])
        stopped = run_suite(tmp_path / "stopped", f"--target={target}", "-k", "ec2")
        check = stopped.verdict["checks"][0]
        assert (check["outcome"], check["failure_mode"]) == ("failed", "origin-down")
        assert f"{instance} is stopped" in check["message"]
    finally:
        ec2.terminate_instances(InstanceIds=[instance])
