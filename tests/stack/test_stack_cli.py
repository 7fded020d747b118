"""`python -m stack` round trip, as a Makefile or a person would use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stack import FAULTS, Deployment
from tests.stack._helpers import alive, pids
from tests.suite.conftest import run_suite

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]


def stack(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", "--state-dir", str(state_dir), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_cli_round_trip(state_base: Path) -> None:
    state_dir = state_base / "cli"
    try:
        up = stack(state_dir, "up")
        assert up.returncode == 0, up.stderr
        assert up.stdout == f"{state_dir / 'target.yaml'}\n"  # the path and nothing else
        assert "up in" in up.stderr
        recorded = pids(state_dir)

        # What the README promises: the printed path is a target the suite passes on.
        checked = run_suite(state_dir.parent / "cli-suite", f"--target={up.stdout.strip()}")
        assert checked.returncode == 0, checked.output
        assert checked.verdict["status"] == "healthy"

        status = stack(state_dir, "status")
        assert status.returncode == 0
        for component in ("postgres", "synapse", "edge"):
            assert f"{component}: running" in status.stdout.splitlines()

        listing = stack(state_dir, "fault", "--list")
        assert "synapse-down\torigin-down\t" in listing.stdout
        assert all(
            line.rsplit("\t", 1)[1] in ("healthy", "degraded", "unhealthy") for line in listing.stdout.splitlines()
        )

        assert stack(state_dir, "fault", "synapse-down").returncode == 0
        assert "synapse: stopped" in stack(state_dir, "status").stdout.splitlines()
        assert stack(state_dir, "heal").returncode == 0
        assert "synapse: running" in stack(state_dir, "status").stdout.splitlines()

        unknown = stack(state_dir, "fault", "nope")
        assert unknown.returncode != 0
        assert unknown.stderr.strip().count("\n") == 0
        assert unknown.stderr.startswith("stack: error: unknown fault")

        down = stack(state_dir, "down")
        assert down.returncode == 0, down.stderr
        assert not state_dir.exists()
        assert [name for name, pid in recorded.items() if alive(pid)] == []
    finally:
        stack(state_dir, "down")


def test_cli_errors_are_one_line(state_base: Path) -> None:
    result = stack(state_base / "never-started", "fault", "synapse-down")
    assert result.returncode == 1
    assert result.stderr.startswith("stack: error: no deployment is up")
    assert result.stderr.count("\n") == 1


def test_every_fault_injects_and_heals_through_the_cli(deployment: Deployment) -> None:
    state_dir = deployment.state_dir
    for fault in FAULTS:
        injected = stack(state_dir, "fault", fault)
        assert injected.returncode == 0, (fault, injected.stderr)
        assert f"faults: {fault}" in stack(state_dir, "status").stdout.splitlines(), fault
        healed = stack(state_dir, "heal", fault)
        assert healed.returncode == 0, (fault, healed.stderr)
    assert "faults: " in stack(state_dir, "status").stdout.splitlines()


def test_the_cli_does_not_load_synapse() -> None:
    # Loading Synapse's modules costs a second, paid by every `python -m stack` call and every helper
    # process a fault starts; only `up` (the config) and the processes that act as a homeserver need them.
    probe = "import sys, stack.__main__; print(sorted(m for m in sys.modules if m.startswith('synapse')))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert loaded.stdout.strip() == "[]", loaded.stdout
