"""Root-cause ranking on hand-made check records (pure code): the evidence decides, not a fixed order alone."""

from pathlib import Path

from synthetics.catalogue import CATALOGUE, Mode
from synthetics.check import Severity
from synthetics.layers import Layer
from synthetics.record import CheckRecord, Outcome
from synthetics.target import load_target
from synthetics.verdict import Status, Verdict, build_verdict

REPO = Path(__file__).resolve().parents[2]


def record(check_id: str, layer: Layer, outcome: Outcome, detects: Mode, seen: Mode | None = None) -> CheckRecord:
    failed = outcome == Outcome.FAILED
    return CheckRecord(
        id=check_id,
        nodeid=check_id,
        layer=layer,
        severity=Severity.CRITICAL,
        outcome=outcome,
        failure_mode=(seen or detects) if failed else None,
        message=f"{check_id} saw {seen or detects}" if failed else "",
        duration_s=0.1,
        detects=detects,
    )


def verdict(*records: CheckRecord) -> Verdict:
    return build_verdict(
        target_name="prod",
        target=load_target(REPO / "targets/prod.yaml", environ={}),
        started_at="2026-01-01T00:00:00+00:00",
        duration_s=1.0,
        records=list(records),
        complete=True,
    )


def test_a_mode_only_an_indirect_view_shows_cannot_rank_first_while_the_live_probe_passes() -> None:
    # db-down as the admin API saw it before: its 500s read as origin-down while /versions answered.
    result = verdict(
        record("client_api.versions", Layer.CLIENT_API, Outcome.PASSED, Mode.ORIGIN_DOWN),
        record("admin.server_version", Layer.ADMIN, Outcome.FAILED, Mode.ORIGIN_DOWN),
        record("client_api.database_answers", Layer.CLIENT_API, Outcome.FAILED, Mode.DATABASE_ERRORS),
    )
    assert [d["failure_mode"] for d in result.diagnosis] == ["database-errors", "origin-down"]
    assert result.diagnosis[1]["contradicted_by"] == ["client_api.versions passed"]
    assert (
        "origin-down is contradicted by live evidence (client_api.versions passed)" in result.diagnosis[0]["why_first"]
    )


def test_a_live_probe_that_failed_is_not_contradicted_by_the_control_plane() -> None:
    # synapse-down: the edge answers 502 while ECS (the AWS side's account) says the task runs.
    result = verdict(
        record("client_api.versions", Layer.CLIENT_API, Outcome.FAILED, Mode.ORIGIN_DOWN),
        record("aws.ecs_service_running", Layer.AWS, Outcome.PASSED, Mode.ORIGIN_DOWN),
        record("journey.message_delivered", Layer.JOURNEY, Outcome.FAILED, Mode.MESSAGING_BROKEN),
    )
    first = result.diagnosis[0]
    assert first["failure_mode"] == "origin-down" and "contradicted_by" not in first
    assert "may explain them" in first["why_first"] and "messaging-broken" in first["why_first"]
    assert first["conflicts"]  # the other side's view is still named


def test_the_lowest_layer_explains_the_failures_above_it() -> None:
    result = verdict(
        record("federation.server_keys", Layer.FEDERATION, Outcome.FAILED, Mode.FEDERATION_BROKEN),
        record("tls.certificate_verifies", Layer.TLS, Outcome.FAILED, Mode.TLS_CERTIFICATE),
    )
    assert [d["failure_mode"] for d in result.diagnosis] == ["tls-certificate", "federation-broken"]
    assert "federation-broken" in result.diagnosis[0]["why_first"]


def test_when_every_mode_is_contradicted_the_lowest_still_comes_first() -> None:
    result = verdict(
        record("client_api.database_answers", Layer.CLIENT_API, Outcome.PASSED, Mode.DATABASE_ERRORS),
        record("aws.rds_available", Layer.AWS, Outcome.FAILED, Mode.DATABASE_ERRORS),
    )
    assert result.status == Status.UNHEALTHY
    assert result.diagnosis[0]["failure_mode"] == "database-errors"
    assert "contradicted" in result.diagnosis[0]["why_first"]


def test_a_runner_cut_off_is_inconclusive_and_names_no_chat_failure_mode() -> None:
    result = verdict(
        record("dns.resolves[chat-host]", Layer.DNS, Outcome.FAILED, Mode.DNS_MISCONFIGURED, Mode.RUNNER_OFFLINE),
        record("client_api.versions", Layer.CLIENT_API, Outcome.FAILED, Mode.ORIGIN_DOWN, Mode.RUNNER_OFFLINE),
        record("federation.server_discovery", Layer.FEDERATION, Outcome.FAILED, Mode.FEDERATION_BROKEN),
    )
    assert result.status == Status.INCONCLUSIVE
    assert [d["failure_mode"] for d in result.diagnosis] == ["runner-offline"]
    assert not any(CATALOGUE[Mode(d["failure_mode"])].concerns_chat for d in result.diagnosis)
    assert "federation-broken" in result.note


def test_the_only_mode_says_so() -> None:
    result = verdict(record("client_api.versions", Layer.CLIENT_API, Outcome.FAILED, Mode.ORIGIN_DOWN))
    assert result.diagnosis[0]["why_first"] == "the only failure mode seen (1 check(s))"


def test_synapse_measuring_a_cause_is_not_contradicted_and_is_cited_before_the_symptoms() -> None:
    # A stalled event processor (slow-performance, measured by Synapse) with /versions fast and the
    # message journey late: the cause is not contradicted by the fast /versions, ranks below
    # messaging-broken's layer, and its measurement is cited before the outside symptom.
    result = verdict(
        record("client_api.latency", Layer.CLIENT_API, Outcome.PASSED, Mode.SLOW_PERFORMANCE),
        record("journey.message_delivered", Layer.JOURNEY, Outcome.FAILED, Mode.MESSAGING_BROKEN),
        record("admin.no_background_updates", Layer.ADMIN, Outcome.FAILED, Mode.SLOW_PERFORMANCE),
        record("synapse_metrics.event_processing_lag", Layer.METRICS, Outcome.FAILED, Mode.SLOW_PERFORMANCE),
    )
    first = result.diagnosis[0]
    assert [d["failure_mode"] for d in result.diagnosis] == ["slow-performance", "messaging-broken"]
    assert "contradicted_by" not in first
    assert first["evidence"] == ["synapse_metrics.event_processing_lag", "admin.no_background_updates"]
    assert first["messages"][0].startswith("synapse_metrics.event_processing_lag")


def test_the_admin_view_alone_is_still_contradicted_by_the_live_probe() -> None:
    result = verdict(
        record("client_api.latency", Layer.CLIENT_API, Outcome.PASSED, Mode.SLOW_PERFORMANCE),
        record("admin.no_background_updates", Layer.ADMIN, Outcome.FAILED, Mode.SLOW_PERFORMANCE),
    )
    assert result.diagnosis[0]["contradicted_by"] == ["client_api.latency passed"]
