"""Each AWS-side fault of the reference deployment (moto, and the real PostgreSQL behind Synapse) is
diagnosed as the failure mode the fault table names; once healed, the deployment is healthy again."""

from pathlib import Path

import pytest

from stack import FAULTS
from tests.suite.conftest import Reference, run_suite, run_suite_from_now

pytestmark = pytest.mark.stack

AWS_FAULTS = ("ecs-tasks-stopped", "deployment-stuck", "rds-stopped", "db-down", "db-pool-exhausted", "media-denied")
# The check that must see each fault, beside the diagnosis: the AWS evidence, not only its echo.
SEEN_BY = {
    "ecs-tasks-stopped": ("aws.ecs_service_running",),
    "deployment-stuck": ("aws.ecs_deployment_settled",),
    "rds-stopped": ("aws.rds_available",),
    "db-down": ("client_api.database_answers", "aws.database_direct_probe"),
    "db-pool-exhausted": ("aws.logs_free_of_database_errors", "aws.database_direct_probe"),
    "media-denied": ("aws.s3_media_write",),
}


@pytest.mark.parametrize("fault", AWS_FAULTS)
def test_the_fault_is_diagnosed_and_the_healed_deployment_is_healthy(
    reference: Reference, tmp_path: Path, fault: str
) -> None:
    expected = FAULTS[fault]
    with reference.deployment.injected(fault):
        broken = run_suite(tmp_path / "broken", f"--target={reference.target}")
    assert broken.returncode == 1, broken.output
    assert expected in [entry["failure_mode"] for entry in broken.verdict["diagnosis"]], broken.output[-3000:]
    checks = {c["id"]: c for c in broken.verdict["checks"]}
    for check_id in SEEN_BY[fault]:
        assert (checks[check_id]["outcome"], checks[check_id]["failure_mode"]) == ("failed", expected), checks[check_id]

    healed = run_suite_from_now(tmp_path / "healed", reference.target)
    assert healed.returncode == 0, healed.output
    assert healed.verdict["status"] == "healthy"


def test_the_stopped_task_reason_reaches_the_verdict(reference: Reference, tmp_path: Path) -> None:
    with reference.deployment.injected("ecs-tasks-stopped"):
        run = run_suite(tmp_path, f"--target={reference.target}")
    running = {c["id"]: c for c in run.verdict["checks"]}["aws.ecs_service_running"]
    assert "runs 0 of 1 desired task(s)" in running["message"]
    assert "Essential container in task exited" in running["message"]
    assert run.verdict["diagnosis"][0]["failure_mode"] == "origin-down"


def test_a_target_without_aws_runs_everything_else_and_skips_aws_with_a_reason(
    reference: Reference, tmp_path: Path
) -> None:
    import yaml

    document = yaml.safe_load(reference.target.read_text())
    document["aws"] = None
    target = tmp_path / "no-aws.yaml"
    target.write_text(yaml.safe_dump(document))
    run = run_suite(tmp_path, f"--target={target}")
    assert run.returncode == 0, run.output
    aws_checks = [c for c in run.verdict["checks"] if c["layer"] == "aws"]
    assert aws_checks and all(c["outcome"] == "skipped" for c in aws_checks)
    assert all("aws" in c["message"] and "is not set" in c["message"] for c in aws_checks), aws_checks
    assert all(c["outcome"] == "passed" for c in run.verdict["checks"] if c["layer"] != "aws")
