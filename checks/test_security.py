"""What the internet can reach without credentials: not the admin API, not metrics, not free sign-up."""

from fixtures.journeys import user_evidence
from synthetics import must
from synthetics.check import check
from synthetics.exchange import Exchange
from synthetics.survey import Survey
from synthetics.target import Target


@check(
    layer="security",
    severity="critical",
    detects="security-exposure",
    title="The admin API is not reachable through the public edge",
)
def test_admin_api_not_exposed(survey: Survey, target: Target) -> None:
    # /_synapse/admin/v1/server_version needs no token: a safe probe of what the edge forwards.
    exchange: Exchange = user_evidence(survey, target, "security:admin")
    must.be_unreachable(exchange, "the Synapse admin API")


@check(
    layer="security",
    severity="critical",
    detects="security-exposure",
    title="Metrics are not reachable through the public edge",
)
def test_metrics_not_exposed(survey: Survey, target: Target) -> None:
    exchange: Exchange = user_evidence(survey, target, "security:metrics")
    must.be_unreachable(exchange, "/_synapse/metrics")


@check(
    layer="security",
    severity="normal",
    detects="security-exposure",
    title="Registration is not open without a token or other gate",
)
def test_registration_gated(survey: Survey, target: Target) -> None:
    assert target.homeserver is not None
    exchange: Exchange = user_evidence(survey, target, "security:registration")
    must.keep_registration_closed(exchange, target.homeserver.open_registration)
