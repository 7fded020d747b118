"""What the internet can reach without credentials: not the admin API, not metrics, not free sign-up."""

from fixtures.journeys import user_evidence
from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Severity, check
from synthetics.exchange import Exchange
from synthetics.layers import Layer
from synthetics.survey import Survey
from synthetics.target import Target


@check(
    layer=Layer.SECURITY,
    severity=Severity.CRITICAL,
    detects=Mode.SECURITY_EXPOSURE,
    title="The admin API is not reachable through the public edge",
    proven_by=("admin-exposed",),
)
def test_admin_api_not_exposed(survey: Survey, target: Target) -> None:
    # /_synapse/admin/v1/server_version needs no token: a safe probe of what the edge forwards.
    exchange: Exchange = user_evidence(survey, target, "security:admin")
    must.be_unreachable(exchange, "the Synapse admin API")


@check(
    layer=Layer.SECURITY,
    severity=Severity.CRITICAL,
    detects=Mode.SECURITY_EXPOSURE,
    title="Metrics are not reachable through the public edge",
)
def test_metrics_not_exposed(survey: Survey, target: Target) -> None:
    exchange: Exchange = user_evidence(survey, target, "security:metrics")
    must.be_unreachable(exchange, "/_synapse/metrics")


@check(
    layer=Layer.SECURITY,
    severity=Severity.NORMAL,
    detects=Mode.SECURITY_EXPOSURE,
    title="Registration is not open without a token or other gate",
    proven_by=("registration-open",),
)
def test_registration_gated(survey: Survey, target: Target) -> None:
    assert target.homeserver is not None
    exchange: Exchange = user_evidence(survey, target, "security:registration")
    must.keep_registration_closed(exchange, target.homeserver.open_registration)
