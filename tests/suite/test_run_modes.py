"""Run modes select checks by marker; --read-only skips every check that writes."""

from pathlib import Path

import pytest
import yaml

from tests.suite.conftest import Reference, assert_healthy_now, run_suite

# runner: the runner's own network (network.control), at the bottom of the stack, runs in every mode.
SURFACE = {"runner", "dns", "tls", "edge", "client_api", "client_discovery", "federation"}


def collected(tmp_path: Path, *args: str) -> set[str]:
    run = run_suite(tmp_path, "--target=prod", "--collect-only", "-q", *args)
    assert run.returncode == 0, run.output
    return {line.split("::")[0].removeprefix("checks/test_").removesuffix(".py") for line in run.output.splitlines()
            if line.startswith("checks/")}  # fmt: skip


def test_smoke_is_the_public_surface_only(tmp_path: Path) -> None:
    assert collected(tmp_path, "-m", "smoke") == SURFACE


def test_gate_pre_adds_the_database_and_capacity_but_not_the_rest_of_aws(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--target=prod", "--collect-only", "-q", "-m", "gate_pre")
    aws = {line.split("::")[1] for line in run.output.splitlines() if line.startswith("checks/test_aws.py")}
    assert aws == {"test_ecs_utilisation", "test_rds_available", "test_rds_free_storage", "test_database_direct_probe"}


def test_gate_post_and_triage_run_everything(tmp_path: Path) -> None:
    everything = collected(tmp_path)
    assert collected(tmp_path, "-m", "gate_post") == everything == collected(tmp_path, "-m", "triage")


@pytest.mark.stack
def test_read_only_skips_every_check_that_writes(reference: Reference, tmp_path: Path) -> None:
    run = run_suite(tmp_path, f"--target={reference.target}", "--read-only")
    assert run.returncode == 0, run.output
    skipped = {c["id"]: c["message"] for c in run.verdict["checks"] if c["outcome"] == "skipped"}
    assert skipped.get("aws.s3_media_write") == "--read-only: this check writes"
    assert_healthy_now(run)  # issue 14: or degraded by what an earlier test's fault left in the logs


@pytest.mark.stack
def test_a_degraded_run_exits_zero_unless_the_gate_asks_to_fail_on_degraded(
    reference: Reference, tmp_path: Path
) -> None:
    # A certificate valid for years yet under a target's ten-year minimum: a warning, nothing hurt.
    document = yaml.safe_load(reference.target.read_text())
    document["tls"]["min_days_remaining"] = 3650
    target = tmp_path / "picky.yaml"
    target.write_text(yaml.safe_dump(document))
    only = ("-k", "certificate_not_expiring")
    lenient = run_suite(tmp_path / "lenient", f"--target={target}", *only)
    strict = run_suite(tmp_path / "strict", f"--target={target}", *only, "--fail-on-degraded")
    for run, exit_status in ((lenient, 0), (strict, 1)):
        assert (run.verdict["status"], run.returncode) == ("degraded", exit_status), run.output[-3000:]
        assert run.verdict["diagnosis"][0]["failure_mode"] == "tls-certificate"
        assert "Synthetics: DEGRADED" in run.output
        assert all(c["outcome"] == "passed" and c["warnings"] for c in run.verdict["checks"]), run.verdict["checks"]
