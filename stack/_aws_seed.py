"""What the deployment's AWS account holds, and how its ECS service is put into a given state.

What moto 5.2.5 does (read in moto/ecs/models.py, checked against the running server):
- A service's `runningCount` and its one deployment are fixed when the service is created:
  runningCount = MOTO_ECS_SERVICE_RUNNING of the moto process (0 here), and the deployment is
  PRIMARY, COMPLETED when that count reaches desiredCount, else IN_PROGRESS. moto never adds a
  second deployment, and `update_service` never touches the existing one.
- `update_service(desiredCount=N)` sets desiredCount and runningCount to N and pendingCount to 0.
- Unknown request members are dropped (requests are parsed against the botocore model), so a
  service's counts or deployments cannot be written directly.
So each ECS state is built by deleting and re-creating the service (real API calls), choosing its
desired count and task definition, then scaling it. The healthy service is created at 0 (a
COMPLETED deployment, as 0 running >= 0 desired) and scaled to 1; its deployment entry keeps the
counts of its creation (0/0), a moto artefact. Tasks are real moto tasks (run_task/stop_task).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stack import _moto, _postgres, _shipper
from stack._errors import StackError
from stack._layout import Layout
from stack._moto import DUMMY_KEY_ID, DUMMY_SECRET, REGION, Aws, endpoint_url, set_transition
from stack._postgres import DB_NAME, DB_USER, credentials
from stack._process import ProcRef


@dataclass(frozen=True)
class AwsNames:
    cluster: str = "phenom-prod-cluster"
    service: str = "synapse"
    family: str = "synapse"
    container: str = "synapse"
    image: str = "matrixdotorg/synapse:v1.163.2"
    rds_instance: str = "phenom-prod-postgres"
    database: str = DB_NAME
    media_bucket: str = "phenom-synapse-media"
    log_group: str = "/ecs/synapse"
    log_stream_prefix: str = "synapse"


NAMES = AwsNames()

# Launching tasks on FARGATE needs no container instances in moto.
_LAUNCH_TYPE = "FARGATE"
# The reasons ECS itself gives: a task whose essential container exited, and one replaced by a deployment.
CRASHED = "Essential container in task exited"


def log_stream(task_id: str) -> str:
    # What the awslogs driver names a task's stream: <prefix>/<container>/<task id>.
    return f"{NAMES.log_stream_prefix}/{NAMES.container}/{task_id}"


DSN_ENV = "SYNTHETICS_DB_DSN"


def database_dsn(layout: Layout) -> str:
    """A libpq DSN for the reference PostgreSQL, from the deployment's 0600 pgpass file."""
    keys = credentials(layout.pgpass)
    return f"postgresql://{keys['user']}:{keys['password']}@{keys['host']}:{keys['port']}/{keys['dbname']}"


def target_section(credentials_file: str, port: int) -> dict[str, Any]:
    """The target's `aws` section: the same names the account is seeded with."""
    return {
        "profile": None,
        "region": REGION,
        "endpoint_url": endpoint_url(port),
        "credentials_file": credentials_file,
        "ecs": {"cluster": NAMES.cluster, "service": NAMES.service},
        # The DSN for a direct probe holds a password, so the target names a variable, never the value;
        # `database_dsn` builds it for whoever may hold it.
        "rds": {"instance": NAMES.rds_instance, "database": NAMES.database, "dsn_env": DSN_ENV},
        "s3": {"media_bucket": NAMES.media_bucket},
        "logs": {"group": NAMES.log_group},
    }


def media_storage_provider(port: int) -> dict[str, Any]:
    """Synapse's `media_storage_providers` entry: every upload written to the bucket before it answers."""
    return {
        "module": "s3_storage_provider.S3StorageProviderBackend",
        "store_local": True,
        "store_remote": True,
        "store_synchronous": True,
        "config": {
            "bucket": NAMES.media_bucket,
            "region_name": REGION,
            "endpoint_url": endpoint_url(port),
            "access_key_id": DUMMY_KEY_ID,
            "secret_access_key": DUMMY_SECRET,
            # Its default of 40 threads is for production traffic, not a loopback test deployment.
            "threadpool_size": 4,
        },
    }


@dataclass(frozen=True)
class Seeded:
    task_definition: str  # the healthy revision's ARN
    task_id: str  # the service's running task


def boot(layout: Layout, moto: ProcRef, ports: Mapping[str, int]) -> dict[str, Any]:
    """Once moto answers: seed the account and point the shipper at the task's log stream.

    Returns what faults need later (kept in state.json's `extra["aws"]`).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    _moto.write_credentials(layout)
    _moto.wait_ready(layout, moto, ports["moto"])
    try:
        seeded = seed(Aws.of(layout, ports["moto"]), postgres_port=ports["postgres"], engine_version=_pg_major())
    except (BotoCoreError, ClientError) as err:
        raise StackError(f"seeding AWS failed: {one_line(err)}") from err
    _shipper.write_config(
        layout,
        _shipper.ShipperConfig(
            log_file=str(layout.synapse_log),
            credentials_file=str(layout.aws_credentials),
            port=ports["moto"],
            group=NAMES.log_group,
            stream=log_stream(seeded.task_id),
        ),
    )
    return {"task_definition": seeded.task_definition, "task_id": seeded.task_id}


def one_line(err: Exception) -> str:
    """A botocore error in one line (a moto 500 carries a whole HTML page)."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def _pg_major() -> str | None:
    # /usr/lib/postgresql/<major>/bin, as Debian installs it; else moto's default version.
    major = _postgres.bindir().parent.name
    return major if major.isdigit() else None


def seed(aws: Aws, *, postgres_port: int, engine_version: str | None = None) -> Seeded:
    # moto advances a task's status each time it is described (RUNNING, DEACTIVATING, ... STOPPED)
    # unless told otherwise; a running task must stay running until something stops it.
    set_transition(aws.port, "ecs::task", {"progression": "manual", "times": 2**31 - 1})

    aws.ecs.create_cluster(clusterName=NAMES.cluster)
    task_definition = register_task_definition(aws, NAMES.image)
    task_id = restore_healthy_service(aws, task_definition)

    version = {"EngineVersion": engine_version} if engine_version else {}
    aws.rds.create_db_instance(
        DBInstanceIdentifier=NAMES.rds_instance,
        Engine="postgres",
        **version,
        DBInstanceClass="db.t4g.medium",
        AllocatedStorage=20,
        DBName=NAMES.database,
        MasterUsername=DB_USER,
        # No password travels: RDS would keep it in Secrets Manager.
        ManageMasterUserPassword=True,
        # moto takes the port as given; the address is always <id>.aaaaaaaaaa.<region>.rds.amazonaws.com.
        Port=postgres_port,
        PubliclyAccessible=False,
        StorageEncrypted=True,
    )

    s3 = aws.s3
    # Private (no policy, the owner-only ACL of a new bucket, no account-level block) and blocked at
    # the bucket level, as a new bucket is on AWS: the healthy check sees no exposure and no warning.
    s3.create_bucket(Bucket=NAMES.media_bucket)
    block_public_access(aws)

    aws.logs.create_log_group(logGroupName=NAMES.log_group)
    ensure_log_stream(aws, log_stream(task_id))
    publish_metrics(aws, **HEALTHY_METRICS)
    return Seeded(task_definition=task_definition, task_id=task_id)


# The media bucket's own public access block: every setting on.
MEDIA_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def block_public_access(aws: Aws) -> None:
    """The media bucket's public access block, as seeded."""
    aws.s3.put_public_access_block(Bucket=NAMES.media_bucket, PublicAccessBlockConfiguration=dict(MEDIA_BLOCK))


# What CloudWatch shows of a quiet, healthy deployment (ECS publishes these every minute).
HEALTHY_METRICS = {"cpu_percent": 12.0, "memory_percent": 35.0, "free_storage_mb": 18_000.0, "connections": 4.0}


def publish_metrics(
    aws: Aws, *, cpu_percent: float, memory_percent: float, free_storage_mb: float, connections: float
) -> None:
    """Datapoints as ECS and RDS would publish them, stamped now."""
    cloudwatch = aws.client("cloudwatch")
    service = [{"Name": "ClusterName", "Value": NAMES.cluster}, {"Name": "ServiceName", "Value": NAMES.service}]
    database = [{"Name": "DBInstanceIdentifier", "Value": NAMES.rds_instance}]
    cloudwatch.put_metric_data(
        Namespace="AWS/ECS",
        MetricData=[
            {"MetricName": "CPUUtilization", "Dimensions": service, "Value": cpu_percent, "Unit": "Percent"},
            {"MetricName": "MemoryUtilization", "Dimensions": service, "Value": memory_percent, "Unit": "Percent"},
        ],
    )
    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "FreeStorageSpace",
                "Dimensions": database,
                "Value": free_storage_mb * 1024 * 1024,
                "Unit": "Bytes",
            },
            {"MetricName": "DatabaseConnections", "Dimensions": database, "Value": connections, "Unit": "Count"},
        ],
    )


def ensure_log_stream(aws: Aws, stream: str) -> None:
    logs = aws.logs
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=NAMES.log_group, logStreamName=stream)


# -- ECS ------------------------------------------------------------------------------------------


def register_task_definition(aws: Aws, image: str) -> str:
    definition = aws.ecs.register_task_definition(
        family=NAMES.family,
        # Not FARGATE-only: that implies awsvpc networking, for which moto wants EC2 subnets, and
        # making or finding those costs over a second of boot for nothing the suite looks at.
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {
                "name": NAMES.container,
                "image": image,
                "essential": True,
                # moto sums the containers' own cpu and memory when it places a task.
                "cpu": 1024,
                "memory": 2048,
                "portMappings": [{"containerPort": 8008, "protocol": "tcp"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": NAMES.log_group,
                        "awslogs-region": REGION,
                        "awslogs-stream-prefix": NAMES.log_stream_prefix,
                    },
                },
            }
        ],
    )["taskDefinition"]
    return str(definition["taskDefinitionArn"])


def restore_healthy_service(aws: Aws, task_definition: str) -> str:
    """Running 1 of 1, one PRIMARY COMPLETED deployment, one task running for it; its task id."""
    service = recreate_service(aws, task_definition, desired_count=0)
    aws.ecs.update_service(cluster=NAMES.cluster, service=NAMES.service, desiredCount=1)
    deployment = primary_deployment(service)
    stop_running_tasks(aws, f"Scaling activity initiated by (deployment {deployment})")
    return run_task(aws, task_definition, deployment)


def is_healthy(aws: Aws, task_definition: str) -> bool:
    """The state `restore_healthy_service` makes, with no other revision of the family active."""
    ecs = aws.ecs
    services = ecs.describe_services(cluster=NAMES.cluster, services=[NAMES.service])["services"]
    if len(services) != 1:
        return False
    service = services[0]
    deployments = service.get("deployments", [])
    if (
        service["status"] != "ACTIVE"
        or service["desiredCount"] != 1
        or service["runningCount"] != 1
        or service.get("taskDefinition") != task_definition
        or len(deployments) != 1
        or deployments[0].get("status") != "PRIMARY"
        or deployments[0].get("rolloutState") != "COMPLETED"
        or deployments[0].get("failedTasks")
    ):
        return False
    arns = ecs.list_tasks(cluster=NAMES.cluster, desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster=NAMES.cluster, tasks=arns)["tasks"] if arns else []
    revisions = ecs.list_task_definitions(familyPrefix=NAMES.family, status="ACTIVE")["taskDefinitionArns"]
    return (
        len(tasks) == 1
        and tasks[0].get("startedBy") == deployments[0]["id"]
        and tasks[0].get("taskDefinitionArn") == task_definition
        and revisions == [task_definition]
    )


def recreate_service(aws: Aws, task_definition: str, *, desired_count: int) -> dict[str, Any]:
    ecs = aws.ecs
    found = ecs.describe_services(cluster=NAMES.cluster, services=[NAMES.service])["services"]
    if any(service["status"] == "ACTIVE" for service in found):
        ecs.delete_service(cluster=NAMES.cluster, service=NAMES.service, force=True)
    service: dict[str, Any] = ecs.create_service(
        cluster=NAMES.cluster,
        serviceName=NAMES.service,
        taskDefinition=task_definition,
        desiredCount=desired_count,
        launchType=_LAUNCH_TYPE,
    )["service"]
    return service


def primary_deployment(service: dict[str, Any]) -> str:
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return str(deployment["id"])
    raise StackError(f"ECS service {NAMES.service} has no PRIMARY deployment")


def run_task(aws: Aws, task_definition: str, deployment: str) -> str:
    """A task as the service's scheduler starts it: started by the deployment, in the service's group."""
    tasks = aws.ecs.run_task(
        cluster=NAMES.cluster,
        taskDefinition=task_definition,
        launchType=_LAUNCH_TYPE,
        startedBy=deployment,
        group=f"service:{NAMES.service}",
    )["tasks"]
    if len(tasks) != 1:
        raise StackError(f"ECS run_task started {len(tasks)} tasks, not 1")
    return str(tasks[0]["taskArn"]).rsplit("/", 1)[-1]


def stop_task(aws: Aws, task_id: str, reason: str) -> None:
    aws.ecs.stop_task(cluster=NAMES.cluster, task=task_id, reason=reason)


def stop_running_tasks(aws: Aws, reason: str) -> list[str]:
    """Stop every running task of the cluster (all of them belong to the service); their ids."""
    ecs = aws.ecs
    arns = ecs.list_tasks(cluster=NAMES.cluster, desiredStatus="RUNNING")["taskArns"]
    for arn in arns:
        ecs.stop_task(cluster=NAMES.cluster, task=arn, reason=reason)
    return [str(arn).rsplit("/", 1)[-1] for arn in arns]


def deregister_revisions_except(aws: Aws, keep: str) -> None:
    ecs = aws.ecs
    arns = ecs.list_task_definitions(familyPrefix=NAMES.family, status="ACTIVE")["taskDefinitionArns"]
    for arn in arns:
        if arn != keep:
            ecs.deregister_task_definition(taskDefinition=arn)
