"""What the internet can reach without credentials: not the admin API, not metrics, not free sign-up."""

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Impact, Severity, check
from synthetics.exchange import Exchange
from synthetics.layers import Layer
from synthetics.target import Target


@check(
    layer=Layer.SECURITY,
    severity=Severity.CRITICAL,
    detects=Mode.SECURITY_EXPOSURE,
    impact=Impact.EXPOSURE,
    title="The admin API is not reachable through the public edge",
    needs=("origin",),
    proven_by=("admin-exposed",),
)
def test_admin_api_not_exposed(public_admin_api: Exchange) -> None:
    must.be_unreachable(public_admin_api, "the Synapse admin API")


@check(
    layer=Layer.SECURITY,
    severity=Severity.CRITICAL,
    detects=Mode.SECURITY_EXPOSURE,
    impact=Impact.EXPOSURE,
    title="Metrics are not reachable through the public edge",
    needs=("origin",),
    proven_by=("metrics-exposed",),
)
def test_metrics_not_exposed(public_metrics: Exchange) -> None:
    must.be_unreachable(public_metrics, "/_synapse/metrics")


@check(
    layer=Layer.SECURITY,
    severity=Severity.NORMAL,
    detects=Mode.SECURITY_EXPOSURE,
    impact=Impact.EXPOSURE,
    title="Registration is not open without a token or other gate",
    needs=("origin",),
    proven_by=("registration-open",),
)
def test_registration_gated(public_registration: Exchange, target: Target) -> None:
    assert target.homeserver is not None
    must.keep_registration_closed(public_registration, target.homeserver.open_registration)
