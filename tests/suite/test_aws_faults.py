"""A target without an AWS section still runs every other check, and skips the AWS ones saying why.

(Which AWS-side fault fails which check is declared with the checks, `proven_by`, and asserted by
tests/suite/test_proofs.py.)"""

from pathlib import Path

import pytest

from tests.suite.conftest import Reference, run_suite

pytestmark = pytest.mark.stack


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
