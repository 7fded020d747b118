"""Faults of the aws layer: each changes what the deployment's AWS (the moto server) reports or does.

Heal puts the account back into the seeded healthy state whatever the fault left, so healing twice,
or healing a fault that was never injected, is harmless; what several faults share (the media
bucket's policy and block) is put back so that each heals on its own (see below). How the ECS
states are built on what moto supports is explained in `_aws_seed`.
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


# -- the media bucket's policy and public access block -------------------------------------------
# Each fault that changes the bucket policy adds its own statement (by Sid) and heals by removing it,
# so media-denied and s3-public-policy heal independently of each other; the seeded bucket has no
# policy at all. The public access block comes back when the last fault that deleted it heals.

_DENY_PUT = "DenyMediaWrites"
_PUBLIC_READ = "PublicRead"
_UNBLOCKING = ("s3-public-policy", "s3-unblocked-private")


def _statements(aws: Aws) -> list[dict[str, Any]]:
    from botocore.exceptions import ClientError  # boto3 is imported only for AWS work (see `Aws`)

    try:
        policy = aws.s3.get_bucket_policy(Bucket=NAMES.media_bucket)["Policy"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return []
        raise
    statements: list[dict[str, Any]] = json.loads(policy).get("Statement", [])
    return statements


def _with_statement(c: Controls, sid: str, statement: dict[str, Any] | None) -> None:
    """The bucket policy with `statement` as its statement `sid` (None: without it); no statement left, no policy."""
    aws = _aws(c)
    statements = [s for s in _statements(aws) if s.get("Sid") != sid]
    if statement is not None:
        statements.append({"Sid": sid, **statement})
    if statements:
        policy = {"Version": "2012-10-17", "Statement": statements}
        aws.s3.put_bucket_policy(Bucket=NAMES.media_bucket, Policy=json.dumps(policy))
    else:
        # Deleting a missing policy is a no-op.
        aws.s3.delete_bucket_policy(Bucket=NAMES.media_bucket)


def _unblock(c: Controls) -> None:
    aws = _aws(c)
    aws.s3.delete_public_access_block(Bucket=NAMES.media_bucket)


def _reblock_unless_still_unblocked(c: Controls, healing: str) -> None:
    """Back to the seeded block, unless another fault that deleted it is still injected."""
    if not any(name in c.record.faults for name in _UNBLOCKING if name != healing):
        _aws_seed.block_public_access(_aws(c))


def _inject_media_denied(c: Controls) -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{NAMES.media_bucket}/*",
    }
    _with_statement(c, _DENY_PUT, deny)


def _heal_media_denied(c: Controls) -> None:
    _with_statement(c, _DENY_PUT, None)


def _inject_public_policy(c: Controls) -> None:
    # Anyone may read every object; with the block deleted, nothing makes that policy ineffective.
    read = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{NAMES.media_bucket}/*",
    }
    _unblock(c)
    _with_statement(c, _PUBLIC_READ, read)


def _heal_public_policy(c: Controls) -> None:
    _with_statement(c, _PUBLIC_READ, None)
    _reblock_unless_still_unblocked(c, "s3-public-policy")


def _heal_unblocked_private(c: Controls) -> None:
    _reblock_unless_still_unblocked(c, "s3-unblocked-private")


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
        name="s3-public-policy",
        failure_mode="security-exposure",
        summary='the media bucket\'s policy lets anyone s3:GetObject (Principal "*") and its public access block '
        "is deleted: every object is public",
        inject=_inject_public_policy,
        heal=_heal_public_policy,
    ),
    Fault(
        name="s3-unblocked-private",
        failure_mode="security-exposure",
        summary="the media bucket's public access block is deleted (no policy, no public ACL, no account-level "
        "block): private, but nothing stops a public policy or ACL",
        inject=_unblock,
        heal=_heal_unblocked_private,
        status="degraded",
    ),
    Fault(
        name="rds-stopped",
        failure_mode="database-errors",
        summary="the RDS instance reports 'stopped' (and PostgreSQL is stopped: Synapse answers 500 on reads)",
        inject=_inject_rds_stopped,
        heal=_heal_rds_stopped,
    ),
)
