"""No secret reaches any output: terminal, verdict, Allure results and attachments, JUnit XML."""

import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stack._aws_seed import DSN_ENV
from tests.suite.conftest import Reference, run_suite

pytestmark = pytest.mark.stack

PUSH_TOKEN, ALERT_TOKEN = "pushgateway-token-9f2c41d7e0", "alertmanager-token-4b7e0a93c5"


class _Echo(http.server.BaseHTTPRequestHandler):
    """A Pushgateway or Alertmanager that refuses the token and echoes it back in its answer."""

    def _refuse(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = f"refused: {self.headers.get('authorization')}".encode()
        self.send_response(401)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def echoing_sink() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def reporting_to(target: Path, url: str, directory: Path) -> Path:
    """The target, its results pushed to `url` as Pushgateway and Alertmanager, with tokens."""
    document = yaml.safe_load(target.read_text())
    document.setdefault("reporting", {}).update(pushgateway_url=url, alertmanager_url=url)
    document["credentials"].update(pushgateway_token_env="PUSH_TOKEN", alertmanager_token_env="ALERT_TOKEN")
    document["network"]["connect_to"][url.removeprefix("http://")] = url.removeprefix("http://")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "reporting.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_no_secret_appears_in_any_output(reference: Reference, tmp_path: Path) -> None:
    import os

    database_password = os.environ[DSN_ENV].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    # The real tokens, so the journeys and admin checks really send them.
    secrets_dir = reference.deployment.state_dir / "secrets"
    admin_token = (secrets_dir / "admin-token").read_text().strip()
    canary_token = (secrets_dir / "canary-token").read_text().strip()
    secrets = [admin_token, canary_token, database_password, PUSH_TOKEN, ALERT_TOKEN]
    env = {
        "SYNAPSE_ADMIN_TOKEN": admin_token,
        "SYNTHETICS_CANARY_TOKEN": canary_token,
        "PUSH_TOKEN": PUSH_TOKEN,
        "ALERT_TOKEN": ALERT_TOKEN,
    }
    # A failing run writes the most: messages, diagnosis, evidence of the failed probes; media-denied
    # fails a journey that has sent both tokens, while the rest of the server answers. Its results go
    # to a Pushgateway and an Alertmanager that refuse their tokens and echo them in the refusal.
    with echoing_sink() as sink, reference.deployment.injected("media-denied"):
        target = reporting_to(reference.target, sink, tmp_path.parent / f"{tmp_path.name}-target")
        run = run_suite(tmp_path, f"--target={target}", f"--junitxml={tmp_path / 'junit.xml'}", env=env)
    assert run.returncode == 1, run.output
    assert "metrics not pushed" in run.output and "alerts not pushed" in run.output, run.output[-2000:]
    outputs = {"terminal": run.output}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            outputs[str(path.relative_to(tmp_path))] = path.read_text(errors="replace")
    assert any(name.startswith("allure-results") for name in outputs) and "verdict.json" in outputs
    assert "junit.xml" in outputs
    journeys = [c for c in run.verdict["checks"] if c["layer"] == "journey"]
    assert journeys and all(c["outcome"] in ("passed", "failed") for c in journeys), journeys
    leaks = {name: [s[:8] for s in secrets if s in text] for name, text in outputs.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
