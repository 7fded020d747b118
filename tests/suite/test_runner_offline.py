"""The runner itself cut off (a network namespace whose loopback is down): the verdict is
inconclusive, with its own exit status, and names no chat failure mode — a page about chat when
the runner is blind is the false alarm that gets a monitor switched off."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthetics.catalogue import CATALOGUE, Mode
from tests.suite.conftest import REPO, RUN_DEADLINE_S, SuiteRun

INCONCLUSIVE_EXIT = 6


def _can_cut_the_network() -> bool:
    return (
        shutil.which("unshare") is not None and subprocess.run(["unshare", "-n", "true"], check=False).returncode == 0
    )


pytestmark = pytest.mark.skipif(not _can_cut_the_network(), reason="needs unshare -n (root)")


def offline_target(directory: Path) -> Path:
    """A target whose every name and address is on loopback, which the namespace below does not have."""
    path = directory / "offline.yaml"
    path.write_text(
        "name: offline\n"
        "homeserver: {base_url: 'https://chat.offline.test', server_name: offline.test}\n"
        "dns: {nameservers: ['127.0.0.1:53']}\n"
        "network:\n"
        "  timeout_s: 2\n"
        "  connect_to_only: true\n"
        "  connect_to: {'chat.offline.test:443': '127.0.0.1:443', 'offline.test:443': '127.0.0.1:443'}\n"
    )
    return path


def test_a_runner_without_a_network_is_inconclusive_and_blames_nothing_about_chat(tmp_path: Path) -> None:
    verdict = tmp_path / "verdict.json"
    # `unshare -n` without `ip link set lo up`: every connect and DNS query fails at once, unreachable.
    completed = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         f"--target={offline_target(tmp_path)}", f"--verdict={verdict}", f"--alluredir={tmp_path / 'allure'}"],
        cwd=REPO, capture_output=True, text=True, timeout=RUN_DEADLINE_S, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    run = SuiteRun(completed.returncode, completed.stdout + completed.stderr, verdict)
    assert run.verdict["status"] == "inconclusive", run.output[-3000:]
    assert run.returncode == INCONCLUSIVE_EXIT, run.output[-3000:]
    modes = [Mode(entry["failure_mode"]) for entry in run.verdict["diagnosis"]]
    assert modes == [Mode.RUNNER_OFFLINE]
    assert not any(CATALOGUE[mode].concerns_chat for mode in modes)
    assert "INCONCLUSIVE" in run.output and "could not reach the network" in run.output
