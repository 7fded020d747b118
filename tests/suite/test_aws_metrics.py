"""CloudWatch metrics of the reference deployment's AWS: a busy ECS service is slow-performance, an
RDS instance running out of storage is database-errors."""

import os
import tempfile
from pathlib import Path

import pytest
import yaml

from stack import Deployment
from stack._aws_seed import publish_metrics
from stack._layout import Layout
from stack._moto import Aws
from tests.suite.conftest import run_suite

pytestmark = pytest.mark.stack


def test_busy_service_and_full_database_are_diagnosed(tmp_path: Path) -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="synthetics-metrics-"))
    state_dir.rmdir()  # the deployment makes it, with the modes PostgreSQL needs
    deployment = Deployment(state_dir)
    with deployment.running(owner_pid=os.getpid()) as target:
        moto_port = int(yaml.safe_load(target.read_text())["aws"]["endpoint_url"].rsplit(":", 1)[1])
        # What CloudWatch would show of a saturated task and a nearly full disk.
        aws = Aws.of(Layout(deployment.state_dir), moto_port)
        publish_metrics(aws, cpu_percent=99.0, memory_percent=97.0, free_storage_mb=100.0, connections=4.0)
        run = run_suite(tmp_path, f"--target={target}")
    checks = {c["id"]: c for c in run.verdict["checks"]}
    assert (checks["aws.ecs_utilisation"]["outcome"], checks["aws.ecs_utilisation"]["failure_mode"]) == (
        "failed",
        "slow-performance",
    )
    assert "CPUUtilization" in checks["aws.ecs_utilisation"]["message"]
    assert (checks["aws.rds_free_storage"]["outcome"], checks["aws.rds_free_storage"]["failure_mode"]) == (
        "failed",
        "database-errors",
    )
    assert {"slow-performance", "database-errors"} <= {d["failure_mode"] for d in run.verdict["diagnosis"]}
