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
from tests.suite.conftest import REPO, RUN_DEADLINE_S, SuiteRun, run_suite
from tests.support.dns_responder import DnsResponder

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
        "  control: {resolvers: ['127.0.0.1:53'], url: 'https://control.offline.test/'}\n"
        "  connect_to_only: true\n"
        "  connect_to: {'chat.offline.test:443': '127.0.0.1:443', 'offline.test:443': '127.0.0.1:443', "
        "'control.offline.test:443': '127.0.0.1:443'}\n"
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
    # The control the target names says so too: it is the first failure, at the bottom of the stack.
    control = {c["id"]: c for c in run.verdict["checks"]}["runner.network_reachable"]
    assert (control["outcome"], control["failure_mode"]) == ("failed", "runner-offline"), control
    assert "reached none of its controls" in control["message"]


def test_the_targets_silent_nameservers_are_dns_misconfigured_when_the_control_answers(tmp_path: Path) -> None:
    # The runner's own network works (its control resolver answers), the target's resolver does not.
    with DnsResponder() as control, DnsResponder(behaviour="silent") as target_dns:
        path = tmp_path / "silent-dns.yaml"
        path.write_text(
            "name: silent-dns\n"
            "homeserver: {base_url: 'https://chat.silent.test', server_name: silent.test}\n"
            f"dns: {{nameservers: ['127.0.0.1:{target_dns.port}']}}\n"
            f"network: {{timeout_s: 1, connect_to_only: true, control: {{resolvers: ['127.0.0.1:{control.port}']}}}}\n"
        )
        run = run_suite(tmp_path / "run", f"--target={path}")
    assert run.verdict["status"] == "unhealthy", run.output[-3000:]
    modes = [entry["failure_mode"] for entry in run.verdict["diagnosis"]]
    assert modes and modes[0] == "dns-misconfigured", modes
    assert "runner-offline" not in modes
    assert {c["id"]: c for c in run.verdict["checks"]}["runner.network_reachable"]["outcome"] == "passed"
