"""Verdict building: status, and the diagnosis ordered root cause first."""

import json
from dataclasses import replace
from pathlib import Path

from synthetics.catalogue import Mode
from synthetics.check import Impact, Severity
from synthetics.layers import Layer
from synthetics.record import CheckRecord, Outcome
from synthetics.redact import Redactor
from synthetics.target import load_target
from synthetics.verdict import EXIT_STATUS, Verdict, build_verdict, write_verdict

REPO = Path(__file__).resolve().parents[2]


def record(
    nodeid: str,
    outcome: str,
    mode: str | None = None,
    layer: str = "client-api",
    detects: str | None = None,
    message: str = "",
) -> CheckRecord:
    return CheckRecord(
        id=nodeid,
        nodeid=nodeid,
        layer=Layer(layer),
        severity=Severity.CRITICAL,
        outcome=Outcome(outcome),
        failure_mode=Mode(mode) if mode else None,
        message=message or f"{nodeid} says {mode}",
        duration_s=0.1,
        detects=Mode(declared) if (declared := detects or mode) else None,
    )


def verdict(records: list[CheckRecord], complete: bool = True, duration_s: float = 1.0) -> Verdict:
    return build_verdict(
        target_name="prod",
        target=load_target(REPO / "targets/prod.yaml", environ={}),
        started_at="2026-01-01T00:00:00+00:00",
        duration_s=duration_s,
        records=records,
        complete=complete,
    )


def test_all_passed_is_healthy_with_no_diagnosis() -> None:
    result = verdict([record("a", "passed"), record("b", "skipped")])
    assert result.status == "healthy" and result.diagnosis == ()


def test_a_failure_is_unhealthy_and_the_lower_layer_is_diagnosed_first() -> None:
    result = verdict(
        [
            record("journey", "failed", "messaging-broken", layer="journey"),
            record("versions", "failed", "origin-down"),
            record("http2", "failed", "origin-down", layer="edge"),
        ]
    )
    assert result.status == "unhealthy"
    assert [d["failure_mode"] for d in result.diagnosis] == ["origin-down", "messaging-broken"]
    first = result.diagnosis[0]
    assert first["evidence"] == ["http2", "versions"]
    assert any("--force-new-deployment" in step for step in first["remediation"])


def test_an_interrupted_run_is_never_healthy() -> None:
    assert verdict([record("a", "passed")], complete=False).status == "incomplete"
    assert verdict([], complete=True).status == "incomplete"


def test_the_written_verdict_follows_the_schema_and_holds_no_secret(tmp_path: Path) -> None:
    leaky = CheckRecord(
        id="a",
        nodeid="a",
        layer=Layer.EDGE,
        severity=Severity.CRITICAL,
        outcome=Outcome.FAILED,
        failure_mode=Mode.ORIGIN_DOWN,
        message="Authorization: Bearer topsecret99",
        duration_s=0.2,
    )
    path = tmp_path / "v" / "verdict.json"
    write_verdict(verdict([leaky]), path, Redactor(["topsecret99"]))
    document = json.loads(path.read_text())
    assert "topsecret99" not in path.read_text()
    assert document["schema"] == 1 and document["target"] == "prod" and document["status"] == "unhealthy"
    assert set(document["checks"][0]) == {
        "id",
        "nodeid",
        "layer",
        "severity",
        "outcome",
        "failure_mode",
        "message",
        "duration_s",
    }
    assert set(document["diagnosis"][0]) >= {"failure_mode", "title", "evidence", "remediation"}


def test_evidence_of_the_other_side_that_disagrees_is_named() -> None:
    result = verdict(
        [
            record("client_api.versions", "failed", "origin-down"),
            record("aws.ecs_service_running", "passed", layer="aws", detects="origin-down"),
        ]
    )
    conflicts = result.diagnosis[0]["conflicts"]
    assert len(conflicts) == 1 and conflicts[0].startswith("aws.ecs_service_running passed")


def test_agreeing_evidence_is_no_conflict() -> None:
    result = verdict(
        [
            record("client_api.versions", "failed", "origin-down"),
            record("aws.ecs_service_running", "failed", "origin-down", layer="aws"),
        ]
    )
    assert "conflicts" not in result.diagnosis[0]
    assert result.diagnosis[0]["evidence"] == ["aws.ecs_service_running", "client_api.versions"]


def test_messages_and_the_verdict_are_bounded_however_large_the_evidence(tmp_path: Path) -> None:
    huge = [
        CheckRecord(
            id=f"c{i}",
            nodeid=f"c{i}",
            layer=Layer.DNS,
            severity=Severity.CRITICAL,
            outcome=Outcome.FAILED,
            failure_mode=Mode.DNS_MISCONFIGURED,
            message="x" * 50_000,
            duration_s=0.1,
            warnings=tuple("w" * 5_000 for _ in range(100)),
        )
        for i in range(400)
    ]
    path = tmp_path / "verdict.json"
    write_verdict(verdict(huge), path, Redactor([]))
    assert path.stat().st_size <= 256 * 1024
    document = json.loads(path.read_text())
    assert all(len(check["message"]) <= 1000 for check in document["checks"])
    assert all(len(message) <= 1000 for entry in document["diagnosis"] for message in entry["messages"])
    assert "truncated" in document


def warned(nodeid: str, mode: str, *, recovered: bool = False, layer: str = "client-api") -> CheckRecord:
    """A passed check with a warning of `mode` (what the reporting hook records for must.warn)."""
    return replace(
        record(nodeid, "passed", layer=layer, detects=mode),
        failure_mode=Mode(mode),
        impact=Impact.WARNING,
        warnings=(f"{nodeid} warns of {mode}",),
        message="",
        recovered=recovered,
    )


def test_warnings_alone_make_the_run_degraded_and_exit_zero() -> None:
    result = verdict([record("versions", "passed"), warned("latency", "slow-performance")])
    assert result.status == "degraded" and EXIT_STATUS[result.status] == 0
    assert [(d["failure_mode"], d["impact"]) for d in result.diagnosis] == [("slow-performance", "warning")]
    assert result.diagnosis[0]["messages"] == ["latency warns of slow-performance"]
    assert "recovered" not in result.diagnosis[0]


def test_an_outage_outranks_a_warning_of_a_lower_layer() -> None:
    result = verdict(
        [
            warned("tls", "tls-certificate", layer="tls"),
            replace(record("journey", "failed", "messaging-broken", layer="journey"), impact=Impact.OUTAGE),
        ]
    )
    assert result.status == "unhealthy"
    assert [(d["failure_mode"], d["impact"]) for d in result.diagnosis] == [
        ("messaging-broken", "outage"),
        ("tls-certificate", "warning"),
    ]
    assert "tls-certificate only warn" in result.diagnosis[0]["why_first"]


def test_an_exposure_is_unhealthy_with_its_impact() -> None:
    exposed = replace(record("s3", "failed", "security-exposure", layer="aws"), impact=Impact.EXPOSURE)
    result = verdict([exposed, record("versions", "passed")])
    assert result.status == "unhealthy" and result.diagnosis[0]["impact"] == "exposure"


def test_recovered_warnings_say_so_and_a_mode_that_also_fails_is_that_failure() -> None:
    result = verdict([warned("logs", "database-errors", recovered=True, layer="aws")])
    assert result.status == "degraded" and result.diagnosis[0]["recovered"] is True
    both = verdict([warned("logs", "database-errors", layer="aws"), record("db", "failed", "database-errors")])
    assert [(d["failure_mode"], d["impact"], d["evidence"]) for d in both.diagnosis] == [
        ("database-errors", "outage", ["db"])
    ]


def test_an_interrupted_run_with_warnings_is_incomplete_not_degraded() -> None:
    assert verdict([warned("latency", "slow-performance")], complete=False).status == "incomplete"


def test_attempts_and_notes_reach_the_verdict_document() -> None:
    retried = replace(
        warned("versions", "origin-down"),
        attempts=("GET /versions: attempt 1: HTTP 502", "GET /versions: attempt 2: HTTP 200"),
        notes=("context",),
    )
    document = verdict([retried]).as_json()
    (check,) = document["checks"]
    assert check["attempts"] == list(retried.attempts) and check["notes"] == ["context"]
    assert (check["outcome"], check["impact"], check["failure_mode"]) == ("passed", "warning", "origin-down")


def test_a_live_warning_ranks_before_a_recovered_one() -> None:
    result = verdict(
        [warned("logs", "database-errors", recovered=True, layer="aws"), warned("lat", "slow-performance")]
    )
    assert [(d["failure_mode"], d.get("recovered", False)) for d in result.diagnosis] == [
        ("slow-performance", False),
        ("database-errors", True),
    ]
