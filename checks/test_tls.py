"""TLS of the chat host, the server-name host and the delegated federation host."""

import pytest

from fixtures.surface import HOST_ROLES
from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Severity, check
from synthetics.layers import Layer
from synthetics.target import Target
from synthetics.tls import TlsReport

pytestmark = pytest.mark.parametrize("host_role", HOST_ROLES, indirect=True)


@check(
    layer=Layer.TLS,
    severity=Severity.CRITICAL,
    detects=Mode.TLS_CERTIFICATE,
    title="The certificate chain verifies and names the host",
    needs=("dns:{host_role}",),
    proven_by=("trust-store-without-edge-ca",),
)
def test_certificate_verifies(tls_report: TlsReport) -> None:
    must.verify_tls(tls_report)


@check(
    layer=Layer.TLS,
    severity=Severity.CRITICAL,
    detects=Mode.TLS_CERTIFICATE,
    title="The certificate is not close to expiry",
    needs=("dns:{host_role}",),
    proven_by=("cert-expiring", "cert-expiring-critical"),
)
def test_certificate_not_expiring(tls_report: TlsReport, target: Target) -> None:
    must.last_days(tls_report, target.tls.min_days_remaining, target.tls.critical_days)


@check(
    layer=Layer.TLS,
    severity=Severity.NORMAL,
    detects=Mode.TLS_CERTIFICATE,
    title="TLS 1.2 or newer is negotiated",
    needs=("dns:{host_role}",),
    proven_by=("tls-legacy-only",),
)
def test_modern_protocol(tls_report: TlsReport) -> None:
    must.speak_modern_tls(tls_report)
