"""Journeys on the real reference deployment: they record their latency, and skip naming the
variable when a token is missing. (Which fault fails which user-facing check is declared with the
checks, `proven_by`, and asserted by tests/suite/test_proofs.py.)"""

from pathlib import Path

import pytest

from tests.suite.conftest import Reference, run_suite

pytestmark = pytest.mark.stack


def test_journeys_record_their_latency_and_leave_the_room_tidy(reference: Reference, tmp_path: Path) -> None:
    run = run_suite(tmp_path, f"--target={reference.target}")
    message = {c["id"]: c for c in run.verdict["checks"]}["journey.message_delivered"]
    assert message["outcome"] == "passed"
    # Context, not a warning (issue 14: a warning degrades the run): a note, and no warning at all.
    assert any(n.startswith("send to /sync took") for n in message.get("notes", [])), message
    assert "warnings" not in message, message


def test_journeys_skip_naming_the_variable_when_the_token_is_missing(reference: Reference, tmp_path: Path) -> None:
    import yaml

    document = yaml.safe_load(reference.target.read_text())
    for key in ("admin_token_file", "canary_token_file"):
        document["credentials"].pop(key, None)
    target = tmp_path / "no-tokens.yaml"
    target.write_text(yaml.safe_dump(document))
    run = run_suite(tmp_path, f"--target={target}", env={"SYNTHETICS_CANARY_TOKEN": "", "SYNAPSE_ADMIN_TOKEN": ""})
    checks = {c["id"]: c for c in run.verdict["checks"]}
    assert checks["journey.message_delivered"]["outcome"] == "skipped"
    assert "SYNTHETICS_CANARY_TOKEN" in checks["journey.message_delivered"]["message"]
    assert checks["admin.no_background_updates"]["outcome"] == "skipped"
    assert "SYNAPSE_ADMIN_TOKEN" in checks["admin.no_background_updates"]["message"]
