"""Faults of the aws layer: each changes what the deployment's AWS (the moto server) reports or does.

Heal puts the account back into the seeded healthy state whatever the fault left, so healing twice,
or healing a fault that was never injected, is harmless. How the ECS states are built on what moto
supports is explained in `_aws_seed`.
"""

from __future__ import annotations

import json
from typing import Any

from stack import _aws_seed, _faults_db, _shipper
from stack._aws_seed import CRASHED, NAMES
from stack._errors import StackError
from stack._fault_types import Controls, Fault
from stack._moto import Aws

# The image of a release that never becomes healthy: its tasks exit as soon as they start.
BROKEN_IMAGE = "matrixdotorg/synapse:v1.164.0"


def _aws(c: Controls) -> Aws:
    return Aws.of(c.layout, c.record.ports["moto"])


def _state(c: Controls) -> dict[str, Any]:
    """What the deployment's AWS seeding recorded (see `Deployment._boot`)."""
    state = c.record.extra.get("aws")
    if not isinstance(state, dict) or "task_definition" not in state:
        raise StackError("state.json lacks the AWS seeding record; was the deployment started by this version?")
    return state


def _heal_ecs(c: Controls) -> None:
    """Back to one healthy task on the seeded task definition, its logs in a new stream."""
    aws, state = _aws(c), _state(c)
    task_definition = str(state["task_definition"])
    if _aws_seed.is_healthy(aws, task_definition):
        # Nothing to undo: a healthy task is not replaced for nothing.
        return
    task_id = _aws_seed.restore_healthy_service(aws, task_definition)
    _aws_seed.deregister_revisions_except(aws, task_definition)
    stream = _aws_seed.log_stream(task_id)
    _aws_seed.ensure_log_stream(aws, stream)
    shipper_config = _shipper.read_config(c.layout.shipper_json)
    _shipper.write_config(c.layout, _shipper_with_stream(shipper_config, stream))
    state["task_id"] = task_id
    c.save()


def _shipper_with_stream(config: _shipper.ShipperConfig, stream: str) -> _shipper.ShipperConfig:
    return _shipper.ShipperConfig(
        log_file=config.log_file,
        credentials_file=config.credentials_file,
        port=config.port,
        group=config.group,
        stream=stream,
    )


# -- ecs-tasks-stopped ----------------------------------------------------------------------------


def _inject_tasks_stopped(c: Controls) -> None:
    aws, state = _aws(c), _state(c)
    # The running task exits; the service, re-created at desired 1, has none running (moto counts
    # it 0 of 1 with a deployment that never completes, as ECS shows a service whose tasks keep dying).
    _aws_seed.stop_running_tasks(aws, CRASHED)
    _aws_seed.recreate_service(aws, str(state["task_definition"]), desired_count=1)
    # What a stopped task means to everyone else: the process behind the edge is gone (502).
    c.stop_component("synapse")


def _heal_tasks_stopped(c: Controls) -> None:
    c.start_component("synapse")
    _heal_ecs(c)


# -- deployment-stuck -----------------------------------------------------------------------------


def _inject_deployment_stuck(c: Controls) -> None:
    aws = _aws(c)
    # A new revision is rolled out; its task exits at once, so the rollout never completes, while
    # the old task keeps serving (running 1 of 1: `aws ecs wait services-stable` is satisfied).
    broken = _aws_seed.register_task_definition(aws, BROKEN_IMAGE)
    service = _aws_seed.recreate_service(aws, broken, desired_count=1)
    aws.ecs.update_service(cluster=NAMES.cluster, service=NAMES.service, desiredCount=1)
    failed = _aws_seed.run_task(aws, broken, _aws_seed.primary_deployment(service))
    _aws_seed.stop_task(aws, failed, CRASHED)


# -- media-denied ---------------------------------------------------------------------------------

_DENY_PUT = "DenyMediaWrites"


def _inject_media_denied(c: Controls) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": _DENY_PUT,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{NAMES.media_bucket}/*",
            }
        ],
    }
    _aws(c).s3.put_bucket_policy(Bucket=NAMES.media_bucket, Policy=json.dumps(policy))


def _heal_media_denied(c: Controls) -> None:
    # The seeded bucket has no policy at all; deleting a missing one is a no-op.
    _aws(c).s3.delete_bucket_policy(Bucket=NAMES.media_bucket)


# -- rds-stopped ----------------------------------------------------------------------------------


def _rds_status(aws: Aws) -> str:
    instances = aws.rds.describe_db_instances(DBInstanceIdentifier=NAMES.rds_instance)["DBInstances"]
    return str(instances[0]["DBInstanceStatus"])


def _inject_rds_stopped(c: Controls) -> None:
    aws = _aws(c)
    if _rds_status(aws) == "available":
        aws.rds.stop_db_instance(DBInstanceIdentifier=NAMES.rds_instance)
    # A stopped instance serves no connection: the database behind Synapse stops as well.
    _faults_db.stop_postgres(c)


def _heal_rds_stopped(c: Controls) -> None:
    aws = _aws(c)
    if _rds_status(aws) == "stopped":
        aws.rds.start_db_instance(DBInstanceIdentifier=NAMES.rds_instance)
    _faults_db.start_postgres(c)


FAULTS: tuple[Fault, ...] = (
    Fault(
        name="ecs-tasks-stopped",
        failure_mode="origin-down",
        summary="the ECS service runs 0 of 1 tasks; its last task stopped: 'Essential container in task exited' "
        "(and Synapse is stopped: the edge answers 502)",
        inject=_inject_tasks_stopped,
        heal=_heal_tasks_stopped,
    ),
    Fault(
        name="deployment-stuck",
        failure_mode="deployment-unstable",
        summary="an ECS rollout of a new task definition stays IN_PROGRESS; its task exited, the old one serves",
        inject=_inject_deployment_stuck,
        heal=_heal_ecs,
    ),
    Fault(
        name="media-denied",
        failure_mode="media-upload-failing",
        summary="the media bucket's policy denies s3:PutObject; uploads through Synapse answer 500",
        inject=_inject_media_denied,
        heal=_heal_media_denied,
    ),
    Fault(
        name="rds-stopped",
        failure_mode="database-errors",
        summary="the RDS instance reports 'stopped' (and PostgreSQL is stopped: Synapse answers 500 on reads)",
        inject=_inject_rds_stopped,
        heal=_heal_rds_stopped,
    ),
)
