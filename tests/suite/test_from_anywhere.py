"""The checks are collected, selected by run mode and run alike from the repository root and from
anywhere else: the top-level conftest.py (markers, --read-only) is found either way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.suite.conftest import REPO, Reference, SuiteRun, run_suite

# runner: the runner's own network (network.control), at the bottom of the stack, runs in every mode.
SURFACE = {"runner", "dns", "tls", "edge", "client_api", "client_discovery", "federation"}
EVERY_AREA = SURFACE | {"aws", "journey", "admin", "synapse_metrics", "security"}
TARGET = "name: elsewhere\nhomeserver: {base_url: 'https://chat.example.org', server_name: example.org}\n"


def suite_from(place: str, tmp_path: Path, target: Path, spelling: str, *args: str) -> SuiteRun:
    """From the root pytest.ini's testpaths find the checks; from elsewhere they are named as the path."""
    target_args = ["--target", str(target)] if spelling == "space" else [f"--target={target}"]
    if place == "root":
        return run_suite(tmp_path / "outputs", *target_args, *args)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return run_suite(tmp_path / "outputs", str(REPO / "checks"), *target_args, *args, cwd=elsewhere)


def areas(output: str) -> set[str]:
    return set(re.findall(r"checks/test_(\w+)\.py::", output))


def a_target(tmp_path: Path) -> Path:
    path = tmp_path / "targets" / "t.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TARGET)
    return path


@pytest.mark.parametrize("spelling", ["space", "equals"])
@pytest.mark.parametrize("place", ["root", "elsewhere"])
def test_run_modes_select_the_same_checks_from_anywhere(tmp_path: Path, place: str, spelling: str) -> None:
    target = a_target(tmp_path)
    everything = suite_from(place, tmp_path, target, spelling, "--collect-only", "-q")
    assert everything.returncode == 0, everything.output
    assert areas(everything.output) == EVERY_AREA, everything.output
    smoke = suite_from(place, tmp_path, target, spelling, "--collect-only", "-q", "-m", "smoke")
    assert smoke.returncode == 0, smoke.output
    assert areas(smoke.output) == SURFACE, smoke.output
    # Strict markers: a run mode conftest.py did not register would be a collection error.
    assert "not found in `markers` configuration option" not in smoke.output


@pytest.mark.parametrize("place", ["root", "elsewhere"])
def test_read_only_skips_the_writing_checks_from_anywhere(tmp_path: Path, place: str) -> None:
    # Skipped before their fixtures run, so no probe is sent: this needs no deployment.
    run = suite_from(place, tmp_path, a_target(tmp_path), "space", "-m", "writes", "--read-only")
    assert run.returncode == 0, run.output
    checks = run.verdict["checks"]
    assert checks and {c["outcome"] for c in checks} == {"skipped"}, checks
    assert {c["message"] for c in checks} == {"--read-only: this check writes"}
    assert "aws.s3_media_write" in {c["id"] for c in checks}


@pytest.mark.stack
@pytest.mark.parametrize("place", ["root", "elsewhere"])
def test_the_smoke_checks_run_from_anywhere(reference: Reference, tmp_path: Path, place: str) -> None:
    run = suite_from(place, tmp_path, reference.target, "space", "-m", "smoke")
    assert run.returncode == 0, run.output
    assert run.verdict["status"] == "healthy"
    judged = {c["id"].split(".", 1)[0] for c in run.verdict["checks"] if c["outcome"] == "passed"}
    assert judged == SURFACE, run.verdict["checks"]
