"""What an HTTP failure means: which failure mode an edge's status code or a transport error points to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from synthetics.catalogue import Mode
from synthetics.exchange import ErrorKind, Exchange

__all__ = ["Reading", "read_failure"]


@dataclass(frozen=True)
class Reading:
    failure_mode: Mode
    meaning: str
    # No HTTP response at all: a check that knows what the missing connection means may say better.
    transport: bool = False


# Cloudflare's own error codes (and the plain gateway codes a proxy answers with).
_EDGE_STATUS = {
    502: Reading(Mode.ORIGIN_DOWN, "the edge got no valid answer from the origin (Synapse down or its task stopped)"),
    503: Reading(Mode.ORIGIN_DOWN, "the service is unavailable behind the edge"),
    504: Reading(Mode.ORIGIN_DOWN, "the edge timed out waiting for the origin gateway"),
    520: Reading(Mode.ORIGIN_DOWN, "the origin answered with something the edge could not use"),
    521: Reading(Mode.ORIGIN_DOWN, "the origin refused the edge's connection (web server down)"),
    522: Reading(Mode.SLOW_PERFORMANCE, "the edge timed out connecting to the origin (origin too slow or overloaded)"),
    523: Reading(Mode.ORIGIN_DOWN, "the origin is unreachable from the edge"),
    524: Reading(Mode.SLOW_PERFORMANCE, "the origin accepted the connection but was too slow to answer"),
    525: Reading(Mode.TLS_CERTIFICATE, "the TLS handshake between the edge and the origin failed"),
    526: Reading(Mode.TLS_CERTIFICATE, "the origin's certificate is invalid for the edge"),
}

# Every kind but "blocked" (the target forbids that connection: the check that wanted it decides).
_TRANSPORT: Mapping[ErrorKind, Mode] = {
    "dns": Mode.DNS_MISCONFIGURED,
    "tls": Mode.TLS_CERTIFICATE,
    "refused": Mode.EDGE_MISCONFIGURED,
    "reset": Mode.EDGE_MISCONFIGURED,
    # Cloudflare always completes a handshake and answers (with a 52x page at worst): silence is no edge at all.
    "connect-timeout": Mode.EDGE_UNREACHABLE,
    "timeout": Mode.SLOW_PERFORMANCE,
    "too-large": Mode.EDGE_MISCONFIGURED,
    "protocol": Mode.EDGE_MISCONFIGURED,
    "network": Mode.EDGE_MISCONFIGURED,
    "no-route": Mode.RUNNER_OFFLINE,
}


def read_failure(exchange: Exchange) -> Reading | None:
    """The failure mode the exchange itself proves, whatever was being checked; None if it proves none."""
    if exchange.error is not None:
        mode = _TRANSPORT.get(exchange.error.kind)
        if mode is None:
            return None
        return Reading(mode, f"no HTTP response: {exchange.error}", transport=True)
    if exchange.status is None:
        return None
    if exchange.status in (403, 503) and (exchange.header("cf-mitigated") or "").lower() == "challenge":
        return Reading(Mode.EDGE_BLOCKING, "the edge answered with a challenge (cf-mitigated: challenge)")
    if exchange.status in _EDGE_STATUS:
        return _EDGE_STATUS[exchange.status]
    # Any other status is read by the check that asked: a 500 means "database" to one, "origin" to another.
    return None
