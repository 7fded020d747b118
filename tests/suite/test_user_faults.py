"""Journeys, the admin API and exposure checks catch their faults in the real reference deployment."""

from pathlib import Path

import pytest

from stack import FAULTS
from tests.suite.conftest import Reference, run_suite, run_suite_from_now

pytestmark = pytest.mark.stack

# The check that must see each fault, with the failure mode the fault table names.
SEEN_BY = {
    "media-denied": "journey.media_round_trip",
    "db-down": "client_api.database_answers",
    "admin-exposed": "security.admin_api_not_exposed",
    "delivery-stuck": "journey.message_delivered",
    "registration-open": "security.registration_gated",
}
# With the database down, the journeys are blocked by the database check rather than failed again.
BLOCKED = {"db-down": {"journey.message_delivered": "client_api.database_answers"}}


@pytest.mark.parametrize("fault", SEEN_BY)
def test_the_fault_is_seen_by_the_user_facing_check(reference: Reference, tmp_path: Path, fault: str) -> None:
    expected = FAULTS[fault]
    with reference.deployment.injected(fault):
        broken = run_suite(tmp_path / "broken", f"--target={reference.target}")
    assert broken.returncode == 1, broken.output
    check = {c["id"]: c for c in broken.verdict["checks"]}[SEEN_BY[fault]]
    assert (check["outcome"], check["failure_mode"]) == ("failed", expected), check
    assert expected in [d["failure_mode"] for d in broken.verdict["diagnosis"]]
    for blocked, blocker in BLOCKED.get(fault, {}).items():
        assert {c["id"]: c for c in broken.verdict["checks"]}[blocked].get("blocked_by") == blocker

    healed = run_suite_from_now(tmp_path / "healed", reference.target)
    assert healed.returncode == 0, healed.output


def test_journeys_record_their_latency_and_leave_the_room_tidy(reference: Reference, tmp_path: Path) -> None:
    run = run_suite_from_now(tmp_path, reference.target)
    message = {c["id"]: c for c in run.verdict["checks"]}["journey.message_delivered"]
    assert message["outcome"] == "passed"
    assert any(w.startswith("send to /sync took") for w in message.get("warnings", [])), message


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
