"""The AWS side, where the runbook's remediations live: ECS, RDS, the S3 media bucket, the logs."""

import pytest

from synthetics import must
from synthetics.aws import CanaryResult, DatabaseProbe, Ec2State, EcsState, LogSearch, PublicAccess, RdsState
from synthetics.catalogue import Mode
from synthetics.check import Impact, RunMode, Severity, check
from synthetics.layers import Layer
from synthetics.target import Target

# Before a deploy, the database and the capacity count as much as the public surface.
CAPACITY = (RunMode.GATE_PRE, RunMode.GATE_POST, RunMode.TRIAGE)


@check(
    layer=Layer.AWS,
    severity=Severity.CRITICAL,
    detects=Mode.ORIGIN_DOWN,
    title="The ECS service runs all its desired tasks",
    proven_by=("ecs-tasks-stopped",),
)
def test_ecs_service_running(ecs_state: EcsState) -> None:
    must.run_the_service(ecs_state)


@check(
    layer=Layer.AWS,
    severity=Severity.CRITICAL,
    detects=Mode.DEPLOYMENT_UNSTABLE,
    title="The ECS deployment has settled (one deployment, rollout completed, no failed tasks)",
    proven_by=("deployment-stuck", "ecs-tasks-stopped"),
)
def test_ecs_deployment_settled(ecs_state: EcsState) -> None:
    if not ecs_state.found:
        pytest.skip("no ECS service to judge (see aws.ecs_service_running)")
    must.settle(ecs_state)


@check(
    layer=Layer.AWS,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="ECS CPU and memory utilisation are under their thresholds",
    modes=CAPACITY,
    proven_by=("ecs-service-busy",),
)
def test_ecs_utilisation(ecs_utilisation: dict[str, float | None], target: Target) -> None:
    thresholds = target.thresholds
    must.stay_under_utilisation(ecs_utilisation, thresholds.ecs_cpu_percent, thresholds.ecs_memory_percent)


@check(
    layer=Layer.AWS,
    severity=Severity.CRITICAL,
    detects=Mode.DATABASE_ERRORS,
    title="The RDS instance is available",
    modes=CAPACITY,
    proven_by=("rds-stopped",),
)
def test_rds_available(rds_state: RdsState) -> None:
    must.be_available(rds_state)


@check(
    layer=Layer.AWS,
    severity=Severity.NORMAL,
    detects=Mode.DATABASE_ERRORS,
    title="The RDS instance has free storage",
    modes=CAPACITY,
    proven_by=("rds-storage-low",),
)
def test_rds_free_storage(rds_state: RdsState, target: Target) -> None:
    must.have_free_storage(rds_state, target.thresholds.rds_min_free_storage_mb)


@check(
    layer=Layer.AWS,
    severity=Severity.CRITICAL,
    detects=Mode.MEDIA_UPLOAD_FAILING,
    writes=True,
    title="The S3 media bucket takes a write, reads it back and deletes it",
    proven_by=("media-denied",),
)
def test_s3_media_write(media_canary: CanaryResult) -> None:
    must.write_media(media_canary)


@check(
    layer=Layer.AWS,
    severity=Severity.CRITICAL,
    detects=Mode.SECURITY_EXPOSURE,
    impact=Impact.EXPOSURE,
    title="The S3 media bucket is not public (policy status, ACL grants), and public access to it is blocked",
    proven_by=("s3-public-policy", "s3-unblocked-private"),
)
def test_s3_public_access_blocked(s3_public_access: PublicAccess) -> None:
    # Public (a policy or ACL grant no block setting stops) fails; private with no block is a warning.
    must.block_public_access(s3_public_access)


@check(
    layer=Layer.AWS,
    severity=Severity.NORMAL,
    detects=Mode.DATABASE_ERRORS,
    title="No database errors in the homeserver's logs",
    proven_by=("db-connections-refused", "db-down"),
)
def test_logs_free_of_database_errors(log_search: LogSearch, live_database: dict[str, bool | None]) -> None:
    # Old errors are judged against what the live database checks see now (recovered or not).
    must.log_no_database_errors(log_search, live_database)


@check(
    layer=Layer.AWS,
    severity=Severity.CRITICAL,
    detects=Mode.ORIGIN_DOWN,
    title="The EC2 instance Synapse runs on is running and passes its status checks",
    proven_by=("ec2-instance-stopped",),
)
def test_ec2_instance_running(ec2_state: Ec2State) -> None:
    must.run_the_instances(ec2_state)


@check(
    layer=Layer.AWS,
    severity=Severity.NORMAL,
    detects=Mode.DATABASE_ERRORS,
    title="The database answers a direct read-only probe, with connections to spare",
    modes=CAPACITY,
    proven_by=("db-down", "db-connections-refused", "db-pool-exhausted"),
)
def test_database_direct_probe(database_probe: DatabaseProbe) -> None:
    must.answer_directly(database_probe)
