"""No secret reaches any output: terminal, verdict, Allure results and attachments, JUnit XML."""

from pathlib import Path

import pytest

from stack._aws_seed import DSN_ENV
from tests.suite.conftest import Reference, run_suite

pytestmark = pytest.mark.stack

ADMIN_TOKEN = "syt_YWRtaW4_known_admin_token_value_1234"
CANARY_TOKEN = "syt_Y2FuYXJ5_known_canary_token_value_5678"


def test_no_secret_appears_in_any_output(reference: Reference, tmp_path: Path) -> None:
    import os

    database_password = os.environ[DSN_ENV].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    secrets = [ADMIN_TOKEN, CANARY_TOKEN, database_password]
    env = {"SYNAPSE_ADMIN_TOKEN": ADMIN_TOKEN, "SYNTHETICS_CANARY_TOKEN": CANARY_TOKEN}
    # A failing run writes the most: messages, diagnosis, evidence of the failed probes.
    with reference.deployment.injected("db-pool-exhausted"):
        run = run_suite(tmp_path, f"--target={reference.target}", f"--junitxml={tmp_path / 'junit.xml'}", env=env)
    assert run.returncode == 1, run.output
    outputs = {"terminal": run.output}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            outputs[str(path.relative_to(tmp_path))] = path.read_text(errors="replace")
    assert any(name.startswith("allure-results") for name in outputs) and "verdict.json" in outputs
    assert "junit.xml" in outputs
    leaks = {name: [s[:8] for s in secrets if s in text] for name, text in outputs.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
