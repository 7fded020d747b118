"""Report data travels from an xdist worker to the controller as plain values and arrives as records."""

import execnet
import pytest

from fixtures.report_data import Blocked, Carried, Measured, Observed, Result, ServerVersion, carry
from synthetics.catalogue import Mode
from synthetics.check import CheckInfo, Impact, Reading, Severity
from synthetics.layers import Layer
from synthetics.must import Caution
from synthetics.record import Outcome

INFO = CheckInfo(
    id="client_api.database_answers",
    title="A database-backed endpoint answers",
    layer=Layer.CLIENT_API,
    severity=Severity.CRITICAL,
    detects=Mode.DATABASE_ERRORS,
    impact=Impact.EXPOSURE,
    needs=("origin",),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("db-down",),
)


def over_execnet(properties: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """What the controller receives: execnet's own serializer refuses anything but plain values."""
    received: list[tuple[str, object]] = execnet.loads(execnet.dumps(properties))
    return received


def test_every_record_survives_the_trip_between_processes() -> None:
    properties: list[tuple[str, object]] = [("someone_elses", "kept apart")]
    blocked = Blocked("client_api.versions", "GET https://chat.example.org/_matrix/client/versions -> no response")
    result = Result(Outcome.FAILED, Mode.DATABASE_ERRORS, "expected HTTP 404, saw 500")
    observed = Observed(
        warnings=(Caution(Mode.SLOW_PERFORMANCE, "slow"), Caution(Mode.DATABASE_ERRORS, "recovered", recovered=True)),
        notes=("settled after 3 s",),
        attempts=("GET /versions: attempt 1: HTTP 502", "GET /versions: attempt 2: HTTP 200"),
    )
    for record in (INFO, result, blocked, ServerVersion("Synapse 1.163.2"), observed):
        carry(properties, record)
    carried = Carried.of(over_execnet(properties))
    assert carried == Carried(INFO, result, blocked, ServerVersion("Synapse 1.163.2"), observed)
    assert carried.observed is not None and type(carried.observed.warnings[0].failure_mode) is Mode
    assert carried.check is not None and type(carried.check.impact) is Impact
    # Rebuilt as the enums, not as look-alike strings.
    assert carried.check is not None and type(carried.check.layer) is Layer
    assert carried.result is not None and type(carried.result.outcome) is Outcome


def test_a_record_with_an_enum_left_in_would_not_travel() -> None:
    # Why `carry` turns enums into their values: execnet refuses a str subclass.
    with pytest.raises(execnet.DataFormatError):
        execnet.dumps([("synthetics_result", {"outcome": Outcome.FAILED})])


def test_a_report_without_records_carries_none() -> None:
    assert Carried.of([("junit_property", "x")]) == Carried()


def test_the_skip_reason_people_read_names_the_blocker() -> None:
    blocked = Blocked("client_api.versions", "GET https://chat.example.org/ -> HTTP/2 502 in 12 ms")
    assert blocked.reason == "blocked by client_api.versions: GET https://chat.example.org/ -> HTTP/2 502 in 12 ms"


def test_what_the_evidence_measured_survives_the_trip_between_processes() -> None:
    numbers = Measured(
        http_phases_s=(("resolve", 0.0), ("connect", 0.001), ("tls", 0.004), ("processing", 0.02), ("transfer", 0.0)),
        certificates=(("chat.example.org", "2027-03-01T12:00:00+00:00"),),
        message_delivery_s=0.84,
    )
    properties: list[tuple[str, object]] = []
    carry(properties, numbers)
    assert Carried.of(over_execnet(properties)) == Carried(measured=numbers)
    nothing_delivered = Measured((), (), None)
    carry(properties, nothing_delivered)
    assert Carried.of(over_execnet(properties)).measured == nothing_delivered
