"""Run modes select checks by marker; --read-only skips every check that writes."""

from pathlib import Path

import pytest

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
