"""Runs the suite the way people do (a `pytest` process) against the real reference deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# The deadline for one whole run of the suite by a test; a run that needs longer is a defect.
RUN_DEADLINE_S = 180


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    output: str
    verdict_path: Path

    @property
    def verdict(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.verdict_path.read_text())
        return document

    def outcomes(self) -> dict[str, str]:
        return {check["id"]: check["outcome"] for check in self.verdict["checks"]}


def run_suite(workdir: Path, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> SuiteRun:
    """`python -m pytest ARGS` from the repository (or from `cwd`), with its outputs kept under `workdir`."""
    verdict = workdir / "verdict.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--verdict={verdict}",
        f"--alluredir={workdir / 'allure-results'}",
        *args,
    ]
    completed = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return SuiteRun(completed.returncode, completed.stdout + completed.stderr, verdict)


def live_findings(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """The diagnosis but its warnings about evidence that ended before the run began ("recovered")."""
    return [entry for entry in verdict["diagnosis"] if not entry.get("recovered")]


def assert_healthy_now(run: SuiteRun) -> None:
    """Healthy, or degraded by "recovered" warnings alone (issue 14): a shared deployment's logs still
    hold the errors of a fault an earlier test healed, and the run says so without calling it live."""
    __tracebackhide__ = True
    assert run.returncode == 0, run.output[-3000:]
    status = run.verdict["status"]
    assert status in ("healthy", "degraded"), run.output[-3000:]
    assert not live_findings(run.verdict), run.output[-3000:]
    assert (status == "degraded") == bool(run.verdict["diagnosis"]), run.verdict["diagnosis"]


@dataclass(frozen=True)
class Reference:
    deployment: Any  # stack.Deployment
    target: Path


@pytest.fixture(scope="session")
def reference() -> Iterator[Reference]:
    """One reference deployment shared by these tests; a fault test heals what it breaks."""
    from stack import Deployment
    from stack._aws_seed import DSN_ENV, database_dsn
    from stack._layout import Layout

    # Not under pytest's basetemp (mode 0700): PostgreSQL runs as its own OS user and must reach it.
    state_dir = Path(tempfile.gettempdir()) / f"synthetics-suite-tests-{os.getpid()}"
    deployment = Deployment(state_dir)
    target = deployment.up(owner_pid=os.getpid())
    # The direct database probe reads its DSN (a secret) from the variable the target names.
    os.environ[DSN_ENV] = database_dsn(Layout(state_dir))
    try:
        yield Reference(deployment, target)
    finally:
        os.environ.pop(DSN_ENV, None)
        deployment.down()
