"""The deployment's AWS is real enough: seeded healthy, Synapse's media and logs land in it, faults show.

Everything is seen the way the suite would see it: plain boto3 against the target's endpoint with
its credentials file, and HTTP through the edge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from stack import FAULTS, Deployment
from stack._faults import REGISTRY
from stack._postgres import bindir
from stack._process import wait_until
from stack._shipper import Follower
from synthetics.target import AwsSettings, load_target
from tests.stack._helpers import state_json

pytestmark = pytest.mark.stack

UPLOAD = "https://chat.phenom.test/_matrix/media/v3/upload"
VERSIONS = "https://chat.phenom.test/_matrix/client/versions"
DIRECTORY = "https://chat.phenom.test/_matrix/client/v3/directory/room/%23nowhere:phenom.test"
# The shipper is at most ~1 s behind; this leaves room for a busy 2-core machine.
LOG_DEADLINE_S = 15.0


class Aws:
    """boto3 clients as the suite makes them from the target's `aws` section."""

    def __init__(self, settings: AwsSettings) -> None:
        assert settings.credentials_file is not None and settings.endpoint_url is not None
        core = botocore.session.Session()
        core.set_config_variable("credentials_file", settings.credentials_file)
        core.set_config_variable("config_file", os.devnull)
        core.set_config_variable("profile", "default")
        session = boto3.session.Session(botocore_session=core, region_name=settings.region)
        config = Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"})
        self.settings = settings
        self.ecs = session.client("ecs", endpoint_url=settings.endpoint_url, config=config)
        self.rds = session.client("rds", endpoint_url=settings.endpoint_url, config=config)
        self.s3 = session.client("s3", endpoint_url=settings.endpoint_url, config=config)
        self.logs = session.client("logs", endpoint_url=settings.endpoint_url, config=config)

    @property
    def cluster(self) -> str:
        assert self.settings.ecs is not None
        return self.settings.ecs.cluster

    @property
    def service_name(self) -> str:
        assert self.settings.ecs is not None
        return self.settings.ecs.service

    @property
    def bucket(self) -> str:
        assert self.settings.s3 is not None and self.settings.s3.media_bucket is not None
        return self.settings.s3.media_bucket

    @property
    def instance(self) -> str:
        assert self.settings.rds is not None
        return self.settings.rds.instance

    @property
    def group(self) -> str:
        assert self.settings.logs is not None
        return self.settings.logs.group

    def service(self) -> dict[str, Any]:
        services: list[dict[str, Any]] = self.ecs.describe_services(cluster=self.cluster, services=[self.service_name])[
            "services"
        ]
        assert len(services) == 1
        return services[0]

    def tasks(self, status: str) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=self.cluster, desiredStatus=status)["taskArns"]
        if not arns:
            return []
        tasks: list[dict[str, Any]] = self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]
        return tasks

    def rds_status(self) -> str:
        instance = self.rds.describe_db_instances(DBInstanceIdentifier=self.instance)["DBInstances"][0]
        return str(instance["DBInstanceStatus"])

    def log_events(self, pattern: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.logs.filter_log_events(logGroupName=self.group, filterPattern=pattern)[
            "events"
        ]
        return events

    def stable(self) -> bool:
        """`aws ecs wait services-stable`, with a short bound instead of 40 x 15 s."""
        waiter = self.ecs.get_waiter("services_stable")
        try:
            waiter.wait(cluster=self.cluster, services=[self.service_name], WaiterConfig={"Delay": 1, "MaxAttempts": 2})
        except WaiterError:
            return False
        return True


@pytest.fixture(scope="session")
def aws(deployment: Deployment) -> Aws:
    settings = load_target(deployment.target_path).aws
    assert settings is not None
    return Aws(settings)


@pytest.fixture(scope="session")
def token(deployment: Deployment) -> str:
    """A fresh user's access token, registered with the shared secret on Synapse's own listener."""
    port = state_json(deployment.state_dir)["ports"]["synapse"]
    secret = (deployment.state_dir / "secrets" / "registration_shared_secret").read_text().strip()
    url = f"http://127.0.0.1:{port}/_synapse/admin/v1/register"
    user, password = f"canary-{secrets.token_hex(4)}", secrets.token_hex(16)
    with httpx.Client(timeout=10, trust_env=False) as http:
        nonce = http.get(url).json()["nonce"]
        message = b"\0".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"])
        mac = hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()
        response = http.post(
            url, json={"nonce": nonce, "username": user, "password": password, "admin": False, "mac": mac}
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def upload(client: httpx.Client, token: str, content: bytes) -> httpx.Response:
    return client.post(
        f"{UPLOAD}?filename=canary.txt",
        content=content,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )


def s3_key(content_uri: str) -> str:
    # synapse-s3-storage-provider keeps Synapse's own layout: local_content/ab/cd/efgh...
    media_id = content_uri.rsplit("/", 1)[-1]
    return f"local_content/{media_id[:2]}/{media_id[2:4]}/{media_id[4:]}"


def wait_for_log(aws: Aws, pattern: str, *, poke: Any = None) -> list[dict[str, Any]]:
    deadline = time.monotonic() + LOG_DEADLINE_S
    while True:
        if poke is not None:
            poke()
        events = aws.log_events(pattern)
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.3)


def assert_ecs_healthy(aws: Aws) -> None:
    service = aws.service()
    assert service["status"] == "ACTIVE"
    assert (service["runningCount"], service["desiredCount"]) == (1, 1)
    deployments = service["deployments"]
    assert [(d["status"], d["rolloutState"], d["failedTasks"]) for d in deployments] == [("PRIMARY", "COMPLETED", 0)]
    running = aws.tasks("RUNNING")
    assert [(t["lastStatus"], t["startedBy"], t["group"]) for t in running] == [
        ("RUNNING", deployments[0]["id"], f"service:{aws.service_name}")
    ]
    assert running[0]["taskDefinitionArn"] == service["taskDefinition"]
    assert aws.stable()


# -- seeded state ---------------------------------------------------------------------------------


def test_target_names_the_aws_endpoint(deployment: Deployment) -> None:
    settings = load_target(deployment.target_path).aws
    assert settings is not None
    port = state_json(deployment.state_dir)["ports"]["moto"]
    assert settings.endpoint_url == f"http://127.0.0.1:{port}"
    assert (settings.profile, settings.region) == (None, "us-east-1")
    assert settings.credentials_file == str(deployment.state_dir / "aws-credentials")
    assert Path(settings.credentials_file).read_text().startswith("[default]\naws_access_key_id = testing\n")
    assert settings.ecs is not None and (settings.ecs.cluster, settings.ecs.service) == (
        "phenom-prod-cluster",
        "synapse",
    )
    assert settings.rds is not None and (settings.rds.instance, settings.rds.database) == (
        "phenom-prod-postgres",
        "synapse",
    )
    assert settings.s3 is not None and settings.s3.media_bucket == "phenom-synapse-media"
    assert settings.logs is not None and settings.logs.group == "/ecs/synapse"


def test_moto_and_shipper_are_components(deployment: Deployment) -> None:
    status = deployment.status()
    assert status["moto"] is True
    assert status["shipper"] is True


def test_ecs_service_is_stable(aws: Aws) -> None:
    assert_ecs_healthy(aws)
    definition = aws.ecs.describe_task_definition(taskDefinition=aws.service()["taskDefinition"])["taskDefinition"]
    assert definition["family"] == "synapse"
    assert [(c["name"], c["image"]) for c in definition["containerDefinitions"]] == [
        ("synapse", "matrixdotorg/synapse:v1.163.2")
    ]


def test_rds_instance_is_the_reference_postgres(deployment: Deployment, aws: Aws) -> None:
    instance = aws.rds.describe_db_instances(DBInstanceIdentifier=aws.instance)["DBInstances"][0]
    assert instance["DBInstanceStatus"] == "available"
    assert instance["Engine"] == "postgres"
    assert instance["DBName"] == "synapse"
    # moto takes the port as given; the address is always its own made-up RDS host name.
    assert instance["Endpoint"]["Port"] == state_json(deployment.state_dir)["ports"]["postgres"]


def test_synapse_log_lines_arrive_in_cloudwatch(aws: Aws, client: httpx.Client) -> None:
    # Synapse logs each request's URI; a unique query string makes the line findable.
    marker = f"canary{secrets.token_hex(8)}"
    started = time.monotonic()
    assert client.get(f"{VERSIONS}?{marker}=1").status_code == 200
    events = wait_for_log(aws, marker)
    assert events, f"no line with {marker} in {aws.group} within {LOG_DEADLINE_S:.0f} s"
    assert time.monotonic() - started < 5
    task_id = aws.tasks("RUNNING")[0]["taskArn"].rsplit("/", 1)[-1]
    assert {event["logStreamName"] for event in events} == {f"synapse/synapse/{task_id}"}


def test_database_errors_are_found_in_cloudwatch(deployment: Deployment, aws: Aws, client: httpx.Client) -> None:
    # Cut Synapse's database connections under it (as a failover does): its next queries fail and it
    # logs "[TXN OPERROR]" before reconnecting.
    port = state_json(deployment.state_dir)["ports"]["postgres"]
    passfile = deployment.state_dir / "secrets" / "pgpass"
    dsn = f"host=127.0.0.1 port={port} user=synapse dbname=synapse passfile={passfile} connect_timeout=5"
    before = len(aws.log_events("OPERROR"))
    subprocess.run(
        [
            str(bindir() / "psql"),
            "-X",
            "-tA",
            "-c",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE usename = current_user AND pid <> pg_backend_pid()",
            dsn,
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    deadline = time.monotonic() + LOG_DEADLINE_S
    while len(aws.log_events("OPERROR")) <= before and time.monotonic() < deadline:
        client.get(DIRECTORY)  # a query of its own, in case no background job runs meanwhile
        time.sleep(0.3)
    assert len(aws.log_events("OPERROR")) > before
    # Synapse reconnects by itself, within a few seconds; later tests need it whole.
    assert wait_until(lambda: client.get(DIRECTORY).status_code == 404, timeout_s=15, interval_s=0.3)


# -- media through Synapse ------------------------------------------------------------------------


def test_media_upload_through_the_edge_lands_in_the_bucket(aws: Aws, client: httpx.Client, token: str) -> None:
    content = f"canary {secrets.token_hex(8)}".encode()
    response = upload(client, token, content)
    assert response.status_code == 200, response.text
    key = s3_key(response.json()["content_uri"])
    assert aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read() == content


# -- faults ---------------------------------------------------------------------------------------


@pytest.fixture
def healthy_after(deployment: Deployment, aws: Aws) -> Iterator[None]:
    yield
    assert deployment.status()["faults"] == ""
    assert_ecs_healthy(aws)
    assert aws.rds_status() == "available"
    assert_media_bucket_as_seeded(aws)


AWS_FAULTS = (
    "ecs-tasks-stopped",
    "deployment-stuck",
    "media-denied",
    "s3-public-policy",
    "s3-unblocked-private",
    "rds-stopped",
)


def test_aws_faults_name_their_failure_modes() -> None:
    assert {name: FAULTS[name] for name in AWS_FAULTS} == {
        "ecs-tasks-stopped": "origin-down",
        "deployment-stuck": "deployment-unstable",
        "media-denied": "media-upload-failing",
        "s3-public-policy": "security-exposure",
        "s3-unblocked-private": "security-exposure",
        "rds-stopped": "database-errors",
    }
    assert REGISTRY["s3-unblocked-private"].status == "degraded"
    assert REGISTRY["s3-public-policy"].status == "unhealthy"


@pytest.mark.usefixtures("healthy_after")
def test_ecs_tasks_stopped(deployment: Deployment, aws: Aws, client: httpx.Client) -> None:
    healthy_task = aws.tasks("RUNNING")[0]["taskArn"]
    with deployment.injected("ecs-tasks-stopped"):
        service = aws.service()
        assert (service["runningCount"], service["desiredCount"]) == (0, 1)
        assert aws.tasks("RUNNING") == []
        stopped = {t["taskArn"]: t for t in aws.tasks("STOPPED")}
        assert stopped[healthy_task]["stoppedReason"] == "Essential container in task exited"
        assert not aws.stable()
    # A new task logs to a new stream, and the shipper follows it.
    new_task = aws.tasks("RUNNING")[0]["taskArn"]
    assert new_task != healthy_task
    marker = f"canary{secrets.token_hex(8)}"
    assert client.get(f"{VERSIONS}?{marker}=1").status_code == 200
    events = wait_for_log(aws, marker)
    assert {e["logStreamName"] for e in events} == {f"synapse/synapse/{new_task.rsplit('/', 1)[-1]}"}


@pytest.mark.usefixtures("healthy_after")
def test_deployment_stuck(deployment: Deployment, aws: Aws) -> None:
    with deployment.injected("deployment-stuck"):
        service = aws.service()
        [rollout] = service["deployments"]
        assert (rollout["status"], rollout["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
        assert rollout["taskDefinition"] == service["taskDefinition"]
        assert service["taskDefinition"].endswith(":2")
        # The old task still serves: the stock waiter calls this stable, rolloutState says otherwise.
        assert (service["runningCount"], service["desiredCount"]) == (1, 1)
        assert aws.stable()
        failed = [t for t in aws.tasks("STOPPED") if t["startedBy"] == rollout["id"]]
        assert [t["stoppedReason"] for t in failed] == ["Essential container in task exited"]
        assert failed[0]["taskDefinitionArn"] == service["taskDefinition"]
    active = aws.ecs.list_task_definitions(familyPrefix="synapse", status="ACTIVE")["taskDefinitionArns"]
    assert [arn.rsplit(":", 1)[-1] for arn in active] == ["1"]


@pytest.mark.usefixtures("healthy_after")
def test_media_denied_makes_uploads_fail(deployment: Deployment, aws: Aws, client: httpx.Client, token: str) -> None:
    with deployment.injected("media-denied"):
        assert '"Deny"' in aws.s3.get_bucket_policy(Bucket=aws.bucket)["Policy"]
        with pytest.raises(ClientError) as denied:
            aws.s3.put_object(Bucket=aws.bucket, Key="probe", Body=b"x")
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert upload(client, token, b"denied").status_code == 500
    with pytest.raises(ClientError):
        aws.s3.get_bucket_policy(Bucket=aws.bucket)
    response = upload(client, token, b"allowed again")
    assert response.status_code == 200
    assert aws.s3.get_object(Bucket=aws.bucket, Key=s3_key(response.json()["content_uri"]))["Body"].read() == (
        b"allowed again"
    )


SEEDED_BLOCK = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)


def media_block(aws: Aws) -> dict[str, bool] | None:
    try:
        block: dict[str, bool] = aws.s3.get_public_access_block(Bucket=aws.bucket)["PublicAccessBlockConfiguration"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None
    return block


def policy_sids(aws: Aws) -> list[str]:
    try:
        policy = aws.s3.get_bucket_policy(Bucket=aws.bucket)["Policy"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return []
    return [statement["Sid"] for statement in json.loads(policy)["Statement"]]


def policy_public(aws: Aws) -> bool:
    try:
        return bool(aws.s3.get_bucket_policy_status(Bucket=aws.bucket)["PolicyStatus"]["IsPublic"])
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return False


def acl_groups(aws: Aws) -> list[str]:
    grants = aws.s3.get_bucket_acl(Bucket=aws.bucket)["Grants"]
    return [grant["Grantee"]["URI"] for grant in grants if grant["Grantee"]["Type"] == "Group"]


def assert_media_bucket_as_seeded(aws: Aws) -> None:
    """Private, with its own full block: no policy, an owner-only ACL."""
    assert media_block(aws) == SEEDED_BLOCK
    assert policy_sids(aws) == [] and not policy_public(aws)
    assert acl_groups(aws) == []


def test_the_media_bucket_is_seeded_private_and_blocked(aws: Aws) -> None:
    assert_media_bucket_as_seeded(aws)


@pytest.mark.usefixtures("healthy_after")
def test_s3_public_policy_makes_the_bucket_public(deployment: Deployment, aws: Aws) -> None:
    with deployment.injected("s3-public-policy"):
        assert media_block(aws) is None
        assert policy_sids(aws) == ["PublicRead"] and policy_public(aws)
        assert acl_groups(aws) == []
    assert_media_bucket_as_seeded(aws)


@pytest.mark.usefixtures("healthy_after")
def test_s3_unblocked_private_only_deletes_the_block(deployment: Deployment, aws: Aws) -> None:
    with deployment.injected("s3-unblocked-private"):
        assert media_block(aws) is None
        assert policy_sids(aws) == [] and not policy_public(aws)
        assert acl_groups(aws) == []
    assert_media_bucket_as_seeded(aws)


@pytest.mark.usefixtures("healthy_after")
def test_the_bucket_faults_heal_independently(deployment: Deployment, aws: Aws) -> None:
    # Each policy fault adds and removes its own statement; the block returns with the last fault that deleted it.
    deployment.fault("media-denied")
    deployment.fault("s3-public-policy")
    deployment.fault("s3-unblocked-private")
    assert policy_sids(aws) == ["DenyMediaWrites", "PublicRead"]
    deployment.heal("s3-public-policy")
    assert policy_sids(aws) == ["DenyMediaWrites"] and not policy_public(aws)
    assert media_block(aws) is None  # s3-unblocked-private still holds it deleted
    deployment.heal("media-denied")
    assert policy_sids(aws) == []
    deployment.fault("s3-public-policy")
    deployment.heal("s3-unblocked-private")
    assert media_block(aws) is None and policy_sids(aws) == ["PublicRead"]
    deployment.heal()
    assert_media_bucket_as_seeded(aws)


@pytest.mark.usefixtures("healthy_after")
def test_rds_stopped(deployment: Deployment, aws: Aws) -> None:
    with deployment.injected("rds-stopped"):
        assert aws.rds_status() == "stopped"
    assert aws.rds_status() == "available"


@pytest.mark.usefixtures("healthy_after")
def test_heal_twice_and_heal_without_fault_are_harmless(deployment: Deployment, aws: Aws) -> None:
    service = aws.service()
    for name in AWS_FAULTS:
        deployment.heal(name)
    assert_media_bucket_as_seeded(aws)
    # Nothing was broken, so nothing was replaced.
    assert aws.service()["deployments"][0]["id"] == service["deployments"][0]["id"]
    deployment.fault("deployment-stuck")
    deployment.fault("rds-stopped")
    deployment.heal()
    deployment.heal("deployment-stuck")


# -- the shipper's file following -----------------------------------------------------------------


def test_follower_survives_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "synapse.log"
    log.write_text("one\ntw")
    follower = Follower(log)
    assert follower.read_lines() == ["one"]
    with log.open("a") as handle:
        handle.write("o\nthree\n")
    assert follower.read_lines() == ["two", "three"]
    # Rotation: the old file gets its last line, then the new file is read from its start.
    with log.open("a") as handle:
        handle.write("four\n")
    log.rename(tmp_path / "synapse.log.1")
    log.write_text("five\n")
    assert follower.read_lines() == ["four", "five"]
    # Truncation in place (copytruncate): what is written afterwards is read from the start.
    log.write_text("")
    assert follower.read_lines() == []
    log.write_text("six\n")
    assert follower.read_lines() == ["six"]
    follower.close()
