"""No secret reaches any output: terminal, verdict, Allure results and attachments, JUnit XML."""

from pathlib import Path

import pytest

from stack._aws_seed import DSN_ENV
from tests.suite.conftest import Reference, run_suite

pytestmark = pytest.mark.stack


def test_no_secret_appears_in_any_output(reference: Reference, tmp_path: Path) -> None:
    import os

    database_password = os.environ[DSN_ENV].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    # The real tokens, so the journeys and admin checks really send them.
    secrets_dir = reference.deployment.state_dir / "secrets"
    admin_token = (secrets_dir / "admin-token").read_text().strip()
    canary_token = (secrets_dir / "canary-token").read_text().strip()
    secrets = [admin_token, canary_token, database_password]
    env = {"SYNAPSE_ADMIN_TOKEN": admin_token, "SYNTHETICS_CANARY_TOKEN": canary_token}
    # A failing run writes the most: messages, diagnosis, evidence of the failed probes; media-denied
    # fails a journey that has sent both tokens, while the rest of the server answers.
    with reference.deployment.injected("media-denied"):
        run = run_suite(tmp_path, f"--target={reference.target}", f"--junitxml={tmp_path / 'junit.xml'}", env=env)
    assert run.returncode == 1, run.output
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
