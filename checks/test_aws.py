"""The AWS side, where the runbook's remediations live: ECS, RDS, the S3 media bucket, the logs."""

import os
from typing import Any

import pytest

from fixtures.aws import aws_evidence
from synthetics import must
from synthetics.aws import CanaryResult, DatabaseProbe, Ec2State, EcsState, LogSearch, PublicAccess, RdsState
from synthetics.catalogue import Mode
from synthetics.check import RunMode, Severity, check
from synthetics.layers import Layer
from synthetics.survey import Survey
from synthetics.target import Target

# Before a deploy, the database and the capacity count as much as the public surface.
CAPACITY = (RunMode.GATE_PRE, RunMode.GATE_POST, RunMode.TRIAGE)


@pytest.fixture
def ecs_state(survey: Survey, target: Target) -> EcsState:
    state: EcsState = aws_evidence(survey, target, "aws:ecs", "aws.ecs")
    return state


@pytest.fixture
def rds_state(survey: Survey, target: Target) -> RdsState:
    state: RdsState = aws_evidence(survey, target, "aws:rds", "aws.rds")
    return state


@pytest.fixture
def media_canary(survey: Survey, target: Target) -> CanaryResult:
    result: CanaryResult = aws_evidence(survey, target, "aws:s3", "aws.s3.media_bucket")
    return result


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
def test_ecs_utilisation(survey: Survey, target: Target) -> None:
    utilisation: dict[str, Any] = aws_evidence(survey, target, "aws:ecs_utilisation", "aws.ecs")
    must.stay_under_utilisation(utilisation, target.thresholds.ecs_cpu_percent, target.thresholds.ecs_memory_percent)


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
    title="Public access to the S3 media bucket is blocked",
    proven_by=("public-access-block-deleted",),
)
def test_s3_public_access_blocked(survey: Survey, target: Target) -> None:
    access: PublicAccess = aws_evidence(survey, target, "aws:s3_public_access", "aws.s3.media_bucket")
    must.block_public_access(access)


@check(
    layer=Layer.AWS,
    severity=Severity.NORMAL,
    detects=Mode.DATABASE_ERRORS,
    title="No database errors in the homeserver's logs",
    proven_by=("db-pool-exhausted", "db-down"),
)
def test_logs_free_of_database_errors(survey: Survey, target: Target) -> None:
    search: LogSearch = aws_evidence(survey, target, "aws:logs", "aws.logs")
    must.log_no_database_errors(search)


@check(
    layer=Layer.AWS,
    severity=Severity.CRITICAL,
    detects=Mode.ORIGIN_DOWN,
    title="The EC2 instance Synapse runs on is running and passes its status checks",
    proven_by=("ec2-instance-stopped",),
)
def test_ec2_instance_running(survey: Survey, target: Target) -> None:
    state: Ec2State = aws_evidence(survey, target, "aws:ec2", "aws.ec2")
    must.run_the_instances(state)


@check(
    layer=Layer.AWS,
    severity=Severity.NORMAL,
    detects=Mode.DATABASE_ERRORS,
    title="The database answers a direct read-only probe, with connections to spare",
    modes=CAPACITY,
    proven_by=("db-down", "db-pool-exhausted"),
)
def test_database_direct_probe(survey: Survey, target: Target) -> None:
    variable = target.aws.rds.dsn_env if target.aws and target.aws.rds else None
    if variable and not os.environ.get(variable):
        pytest.skip(f"aws.rds.dsn_env names {variable}, which is not set")
    probe: DatabaseProbe = aws_evidence(survey, target, "aws:database", "aws.rds.dsn_env")
    must.answer_directly(probe)
