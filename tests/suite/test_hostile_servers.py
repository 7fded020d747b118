"""A hanging or hostile server costs one deadline, and the verdict is written even when interrupted."""

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.suite.conftest import REPO, SuiteRun
from tests.support.dns_responder import DnsResponder


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (no TLS handshake, no HTTP)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for connection in held:
        connection.close()
    listener.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dns_port() -> Iterator[int]:
    """A resolver that answers: the hosts resolve (to Cloudflare's addresses), then hang."""
    with DnsResponder() as responder:
        yield responder.port


def hanging_target(directory: Path, port: int, dns_port: int) -> Path:
    """Every host of the target is the silent server; DNS answers (connections go to connect_to)."""
    path = directory / "hanging.yaml"
    path.write_text(
        "name: hanging\n"
        "homeserver: {base_url: 'https://chat.hanging.test', server_name: hanging.test}\n"
        f"dns: {{nameservers: ['127.0.0.1:{dns_port}']}}\n"
        "network:\n"
        "  timeout_s: 1\n"
        "  connect_to_only: true\n"
        f"  connect_to: {{'chat.hanging.test:443': '127.0.0.1:{port}', 'hanging.test:443': '127.0.0.1:{port}'}}\n"
    )
    return path


def start_suite(tmp_path: Path, target: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--target={target}",
            f"--verdict={tmp_path / 'verdict.json'}",
            f"--alluredir={tmp_path / 'allure'}",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_a_silent_server_fails_the_checks_within_the_deadline_once(
    tmp_path: Path, silent_server: int, dns_port: int
) -> None:
    process = start_suite(tmp_path, hanging_target(tmp_path, silent_server, dns_port))
    output, _ = process.communicate(timeout=60)
    run = SuiteRun(process.returncode, output, tmp_path / "verdict.json")
    assert run.returncode == 1, output
    checks = {c["id"]: c for c in run.verdict["checks"]}
    # Issue 12: blocked, not failed, at every layer. The handshake with the chat host never comes,
    # so its TLS check fails, and both runbook checks behind it are blocked by it, not new waits.
    tls = checks["tls.certificate_verifies[chat-host]"]
    assert (tls["outcome"], tls["failure_mode"]) == ("failed", "edge-unreachable"), tls
    assert "no TLS handshake" in tls["message"]
    for behind in ("client_api.versions", "client_api.versions_http2"):
        assert checks[behind]["outcome"] == "skipped"
        assert checks[behind]["blocked_by"] == "tls.certificate_verifies[chat-host]"
    # Issue 12: a host that accepts and never answers is unreachable, not misconfigured.
    assert "edge-unreachable" in [entry["failure_mode"] for entry in run.verdict["diagnosis"]]
    assert "edge-misconfigured" not in [entry["failure_mode"] for entry in run.verdict["diagnosis"]]
    # No answer is no evidence: nothing passes on it (DNS answered, so its checks may pass).
    assert [c["id"] for c in run.verdict["checks"] if c["outcome"] == "passed" and not c["id"].startswith("dns.")] == []


def test_an_interrupted_run_leaves_an_incomplete_verdict(tmp_path: Path, silent_server: int, dns_port: int) -> None:
    target = hanging_target(tmp_path, silent_server, dns_port)
    target.write_text(target.read_text().replace("timeout_s: 1", "timeout_s: 30"))
    process = start_suite(tmp_path, target)
    verdict = tmp_path / "verdict.json"
    deadline = time.monotonic() + 30
    while not verdict.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # let the first check start waiting on the silent server
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    run = SuiteRun(process.returncode, output, verdict)
    assert run.returncode != 0
    assert run.verdict["status"] == "incomplete", output
    assert "interrupted" in run.verdict["note"]
