"""The runbook's "Verify it is working" checks, proven on the real reference deployment:
they pass when it is healthy, and fail with the right diagnosis when Synapse is stopped."""

from pathlib import Path

import pytest

from tests.suite.conftest import Reference, run_suite, run_suite_from_now

pytestmark = pytest.mark.stack

VERSIONS_CHECKS = {"client_api.versions", "client_api.versions_http2"}


def test_healthy_deployment_passes_with_an_empty_diagnosis(reference: Reference, tmp_path: Path) -> None:
    run = run_suite_from_now(tmp_path, reference.target)
    assert run.returncode == 0, run.output
    assert run.verdict["status"] == "healthy"
    assert run.verdict["diagnosis"] == []
    assert {k: v for k, v in run.outcomes().items() if k in VERSIONS_CHECKS} == dict.fromkeys(VERSIONS_CHECKS, "passed")
    # The reference deployment gives every check what it needs: nothing fails, and nothing is skipped
    # but the EC2 check (it runs on ECS).
    assert {k: v for k, v in run.outcomes().items() if v != "passed"} == {"aws.ec2_instance_running": "skipped"}
    assert "Synthetics: HEALTHY" in run.output


def test_synapse_stopped_is_diagnosed_as_origin_down_and_heals(reference: Reference, tmp_path: Path) -> None:
    with reference.deployment.injected("synapse-down"):
        run = run_suite(tmp_path / "down", f"--target={reference.target}")
    assert run.returncode != 0, run.output
    verdict = run.verdict
    assert verdict["status"] == "unhealthy"
    assert verdict["diagnosis"][0]["failure_mode"] == "origin-down"
    assert set(verdict["diagnosis"][0]["evidence"]) >= VERSIONS_CHECKS
    failed = {c["id"]: c for c in verdict["checks"] if c["id"] in VERSIONS_CHECKS}
    assert all(c["outcome"] == "failed" and c["failure_mode"] == "origin-down" for c in failed.values()), failed
    assert "saw 502" in failed["client_api.versions"]["message"]
    # What an engineer reads: the runbook's symptom and the remediation with the target's own names.
    assert "[origin-down] 502 from Cloudflare" in run.output
    assert "--force-new-deployment" in run.output

    healed = run_suite_from_now(tmp_path / "healed", reference.target)
    assert healed.returncode == 0, healed.output
    assert healed.verdict["status"] == "healthy"


def test_the_embedded_target_boots_for_the_run_and_leaves_nothing_behind(tmp_path: Path) -> None:
    before = _leftovers()
    run = run_suite(tmp_path, "--target=local")
    assert run.returncode == 0, run.output
    assert run.verdict["status"] == "healthy" and run.verdict["target"] == "local"
    assert _leftovers() == before


def _leftovers() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("synthetics-run-*")}
