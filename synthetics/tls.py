"""TLS as a client sees it: does the chain verify, does the name match, how long is left."""

from __future__ import annotations

import errno
import socket
import ssl
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cryptography import x509

from synthetics.exchange import ProbeError
from synthetics.probe import ConnectionBlocked, connect_address
from synthetics.target import Target

__all__ = ["TlsReport", "inspect_tls"]

_VERSIONS = {"TLSv1": 10, "TLSv1.1": 11, "TLSv1.2": 12, "TLSv1.3": 13}


@dataclass(frozen=True)
class TlsReport:
    host: str
    port: int
    address: str  # where the connection went, e.g. "127.0.0.1:8443 (network.connect_to)"
    verified: bool
    verify_error: str | None
    version: str | None
    not_after: datetime | None
    subject: str | None
    names: tuple[str, ...]
    error: ProbeError | None = None  # no handshake at all

    def days_left(self, now: datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400

    @property
    def modern(self) -> bool:
        return _VERSIONS.get(self.version or "", 0) >= 12


def _handshake(target: Target, host: str, port: int, context: ssl.SSLContext) -> tuple[str | None, bytes | None, str]:
    address = connect_address(target, host, port)
    with (
        socket.create_connection(address, timeout=target.network.timeout_s) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.version(), tls.getpeercert(binary_form=True), f"{address[0]}:{address[1]}"


def _permissive_context() -> ssl.SSLContext:
    """A context that takes whatever TLS the host offers, down to TLS 1.0 and its SHA-1 ciphers.

    Never used to trust anything (no certificate check): only to name the version a host that
    refuses modern clients does offer. OpenSSL 3 speaks TLS 1.0 and 1.1 at security level 0 only.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1 is deprecated, and meant
        context.minimum_version = ssl.TLSVersion.TLSv1
    return context


def inspect_tls(target: Target, host: str, port: int) -> TlsReport:
    """Two handshakes: one that verifies as clients do, one that reads the certificate whatever it is.

    When a host completes no handshake a modern client accepts, a third, permissive one names the
    (older) version it offers, so the report says why instead of "handshake failed"."""
    verifying = ssl.create_default_context(cafile=target.tls.ca_bundle)
    verify_error: str | None = None
    try:
        version, der, where = _handshake(target, host, port, verifying)
    except ssl.SSLCertVerificationError as error:
        verify_error = error.verify_message or str(error)
    except OSError as error:
        if not isinstance(error, ssl.SSLError):
            return _unreachable(host, port, error)
        verify_error = f"TLS handshake failed: {error.reason or error}"
    if verify_error is not None:
        reading = ssl.create_default_context()
        reading.check_hostname = False
        reading.verify_mode = ssl.CERT_NONE
        try:
            version, der, where = _handshake(target, host, port, reading)
        except OSError as error:
            if not isinstance(error, ssl.SSLError):
                return replace(_unreachable(host, port, error), verify_error=verify_error)
            try:
                version, der, where = _handshake(target, host, port, _permissive_context())
            except OSError:
                return replace(_unreachable(host, port, error), verify_error=verify_error)
            verify_error = f"{verify_error}; the host offers only {version}, which clients refuse"
    return _report(host, port, where, verify_error, version, der)


def _report(
    host: str, port: int, where: str, verify_error: str | None, version: str | None, der: bytes | None
) -> TlsReport:
    not_after = subject = None
    names: tuple[str, ...] = ()
    if der:
        certificate = x509.load_der_x509_certificate(der)
        not_after = certificate.not_valid_after_utc
        subject = certificate.subject.rfc4514_string()
        try:
            extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            names = tuple(extension.value.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            names = ()
    return TlsReport(host, port, where, verify_error is None, verify_error, version, not_after, subject, names)


def _unreachable(host: str, port: int, error: BaseException) -> TlsReport:
    problem = ProbeError("network", str(error) or type(error).__name__)
    if isinstance(error, ConnectionBlocked):
        problem = ProbeError("blocked", str(error))
    elif isinstance(error, TimeoutError):
        problem = ProbeError("connect-timeout", "no TLS handshake in time")
    elif isinstance(error, ConnectionRefusedError):
        problem = ProbeError("refused", "connection refused")
    elif isinstance(error, socket.gaierror):
        problem = ProbeError("dns", f"name resolution failed ({error.strerror or error})")
    elif isinstance(error, ssl.SSLError):
        problem = ProbeError("tls", f"TLS handshake failed: {error.reason or error}")
    elif isinstance(error, OSError) and error.errno == errno.ENETUNREACH:
        problem = ProbeError("no-route", f"the runner has no route to the network ({error.strerror or error})")
    return TlsReport(host, port, "", False, None, None, None, None, (), error=problem)
