"""Hostile servers and DNS on loopback: whatever they do, the run ends with a complete verdict within
its stated deadline, no check ends in an error (a suite defect), the expected failure mode is named
and the output stays bounded. Each class of hostility is one server behaviour (tests/support)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.suite.conftest import REPO, RUN_DEADLINE_S, SuiteRun
from tests.support.dns_responder import Behaviour as DnsBehaviour
from tests.support.dns_responder import DnsResponder
from tests.support.hostile_server import Behaviour, HostileServer

TIMEOUT_S = 2
HOSTS = ("chat.hostile.test", "hostile.test")


@dataclass(frozen=True)
class Case:
    server: Behaviour | None  # None: a well-behaved server is not needed (DNS decides first)
    dns: DnsBehaviour = "answer"
    addresses: tuple[str, ...] = ("104.16.0.1",)
    expected: str = "origin-down"  # the failure mode the verdict must name for this class
    never: tuple[str, ...] = ()  # modes that would blame the wrong layer


THOUSANDS = tuple(f"240.0.{i // 250}.{i % 250 + 1}" for i in range(3000))  # reserved, never routed

CASES = {
    "slow headers": Case("slow-headers", expected="slow-performance", never=("edge-blocking",)),
    "slow body": Case("slow-body", expected="slow-performance", never=("edge-blocking",)),
    "accept and hang": Case("hang", expected="edge-unreachable", never=("edge-misconfigured", "edge-blocking")),
    "accept and close": Case("close", expected="edge-misconfigured", never=("edge-blocking",)),
    "TLS garbage": Case("tls-garbage", expected="tls-certificate", never=("edge-blocking",)),
    "oversized body": Case("oversized", expected="edge-misconfigured", never=("edge-blocking",)),
    "deeply nested body": Case("nested", expected="origin-down", never=("edge-blocking",)),
    "type confusion in every document": Case("type-confusion", expected="origin-down", never=("edge-blocking",)),
    "a plain 500 from the origin": Case("status-500", expected="origin-down", never=("edge-blocking",)),
    "status 999": Case("status-999", expected="origin-down", never=("edge-blocking",)),
    "redirect loop": Case("redirect-loop", expected="federation-broken", never=("edge-blocking",)),
    "https to http downgrade": Case("downgrade", expected="federation-broken", never=("edge-blocking",)),
    "DNS silent": Case(None, dns="silent", expected="dns-misconfigured"),
    "DNS truncates": Case(None, dns="truncate", expected="dns-misconfigured"),
    "DNS answers thousands of records": Case("status-500", addresses=THOUSANDS, expected="dns-misconfigured"),
}


def hostile_target(directory: Path, dns_port: int, port: int, ca_bundle: Path | None) -> Path:
    path = directory / "hostile.yaml"
    tls = f"tls: {{ca_bundle: '{ca_bundle}'}}\n" if ca_bundle else ""
    path.write_text(
        "name: hostile\n"
        "homeserver: {base_url: 'https://chat.hostile.test', server_name: hostile.test, "
        "delegation: 'chat.hostile.test:443'}\n"
        "edge: {provider: cloudflare}\n"
        f"dns: {{nameservers: ['127.0.0.1:{dns_port}']}}\n" + tls + "network:\n"
        f"  timeout_s: {TIMEOUT_S}\n"
        "  connect_to_only: true\n"
        f"  connect_to: {{'chat.hostile.test:443': '127.0.0.1:{port}', 'hostile.test:443': '127.0.0.1:{port}'}}\n"
    )
    return path


def run_against(case: Case, tmp_path: Path) -> SuiteRun:
    with DnsResponder(case.addresses, case.dns) as dns:
        server = HostileServer(case.server or "status-500", HOSTS, tmp_path)
        with server:
            target = hostile_target(tmp_path, dns.port, server.port, server.ca_bundle)
            verdict = tmp_path / "verdict.json"
            completed = subprocess.run(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--target={target}",
                 f"--verdict={verdict}", f"--alluredir={tmp_path / 'allure'}"],
                cwd=REPO, capture_output=True, text=True, timeout=RUN_DEADLINE_S, stdin=subprocess.DEVNULL,
                check=False,
            )  # fmt: skip
    return SuiteRun(completed.returncode, completed.stdout + completed.stderr, verdict)


def assert_a_complete_bounded_verdict(run: SuiteRun) -> None:
    document = run.verdict
    assert document["status"] in ("healthy", "unhealthy", "inconclusive"), run.output[-3000:]
    assert "deadline_s" in document and document["duration_s"] <= document["deadline_s"], document["duration_s"]
    errors = [c for c in document["checks"] if c["outcome"] == "error"]
    assert not errors, errors
    assert run.verdict_path.stat().st_size <= 256 * 1024
    messages = [c["message"] for c in document["checks"]] + [
        w for c in document["checks"] for w in c.get("warnings", [])
    ]
    assert all(len(message) <= 1000 for message in messages), max(messages, key=len)[:300]
    assert all(len(line) <= 1200 for line in run.output.splitlines()), "an unbounded line in the terminal"


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_server_gets_a_complete_verdict_in_time(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    run = run_against(case, tmp_path)
    assert_a_complete_bounded_verdict(run)
    modes = [entry["failure_mode"] for entry in run.verdict["diagnosis"]]
    assert case.expected in modes, (modes, run.output[-3000:])
    assert not set(case.never) & set(modes), modes


def test_every_host_hanging_ends_within_one_timeout_over_http2(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_against(CASES["accept and hang"], tmp_path)
    elapsed = time.monotonic() - started
    assert_a_complete_bounded_verdict(run)
    # From pytest's start (the verdict's clock starts when the plugin is configured) to its end.
    assert run.verdict["duration_s"] <= TIMEOUT_S + 2, (run.verdict["duration_s"], elapsed)
    # No answer is no evidence: nothing that reads the silent host passes.
    passed = [c["id"] for c in run.verdict["checks"] if c["outcome"] == "passed"]
    assert not [c for c in passed if c.startswith(("tls.", "edge.", "client_api.", "security.", "federation."))], passed


def test_the_same_server_behaviour_gives_the_same_verdict_every_time(tmp_path: Path) -> None:
    seen = []
    for attempt in range(3):
        (tmp_path / str(attempt)).mkdir()
        run = run_against(CASES["type confusion in every document"], tmp_path / str(attempt))
        seen.append((run.verdict["status"], [entry["failure_mode"] for entry in run.verdict["diagnosis"]],
                     sorted((c["id"], c["outcome"]) for c in run.verdict["checks"])))  # fmt: skip
    assert seen[0] == seen[1] == seen[2], json.dumps(seen)[:3000]
