"""Results for other tools: Prometheus text (and a Pushgateway), a CI step summary, JUnit XML."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.suite.conftest import run_suite
from tests.suite.test_hostile_servers import closed_port


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str]]] = []

    def do_PUT(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.received.append((self.path, self.rfile.read(length).decode()))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def pushgateway() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    _Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Gateway.received
    server.shutdown()
    server.server_close()


def test_a_failing_run_is_exported_for_prometheus_ci_and_junit(
    tmp_path: Path, pushgateway: tuple[int, list[tuple[str, str]]]
) -> None:
    port, received = pushgateway
    dead = closed_port()
    target = tmp_path / "down.yaml"
    target.write_text(
        "name: down\n"
        "homeserver: {base_url: 'https://chat.down.test', server_name: down.test}\n"
        f"dns: {{nameservers: ['127.0.0.1:{closed_port()}']}}\n"
        f"network: {{timeout_s: 1, connect_to_only: true, connect_to: {{'chat.down.test:443': '127.0.0.1:{dead}'}}}}\n"
        f"reporting: {{pushgateway_url: 'http://127.0.0.1:{port}'}}\n"
    )
    summary = tmp_path / "step-summary.md"
    run = run_suite(tmp_path, f"--target={target}", f"--junitxml={tmp_path / 'junit.xml'}",
                    env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert run.returncode == 1, run.output

    metrics = (tmp_path / "synthetics.prom").read_text()
    assert 'synthetics_healthy{target="down"} 0' in metrics
    assert (
        # Issue 12: with the resolver refusing, the DNS check fails and client_api.versions is blocked.
        'synthetics_check_success{target="down",check="dns.resolves[chat-host]",layer="dns",severity="critical"} 0'
        in metrics
    )
    diagnosed = {entry["failure_mode"] for entry in run.verdict["diagnosis"]}
    for mode in diagnosed:
        assert f'synthetics_failure_mode_active{{target="down",failure_mode="{mode}"}} 1' in metrics
    assert received and received[0][0] == "/metrics/job/synapse-synthetics/target/down"
    assert received[0][1] == metrics

    markdown = summary.read_text()
    assert "Synthetics: unhealthy (down)" in markdown and "| Failure mode |" in markdown
    assert "<failure" in (tmp_path / "junit.xml").read_text()
