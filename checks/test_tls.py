"""TLS of the chat host, the server-name host and the delegated federation host."""

import pytest

from fixtures.surface import HOST_ROLES
from synthetics import must
from synthetics.check import check
from synthetics.target import Target
from synthetics.tls import TlsReport

pytestmark = pytest.mark.parametrize("host_role", HOST_ROLES, indirect=True)


@check(
    layer="tls",
    severity="critical",
    detects="tls-certificate",
    title="The certificate chain verifies and names the host",
)
def test_certificate_verifies(tls_report: TlsReport) -> None:
    must.verify_tls(tls_report)


@check(layer="tls", severity="critical", detects="tls-certificate", title="The certificate is not close to expiry")
def test_certificate_not_expiring(tls_report: TlsReport, target: Target) -> None:
    must.last_days(tls_report, target.tls.min_days_remaining)


@check(layer="tls", severity="normal", detects="tls-certificate", title="TLS 1.2 or newer is negotiated")
def test_modern_protocol(tls_report: TlsReport) -> None:
    must.speak_modern_tls(tls_report)
