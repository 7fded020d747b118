"""What an HTTP failure means: which failure mode a status code or transport error points to."""

from __future__ import annotations

from dataclasses import dataclass

from synthetics.exchange import Exchange

__all__ = ["Reading", "read_failure"]


@dataclass(frozen=True)
class Reading:
    failure_mode: str
    meaning: str
    # No HTTP response at all: a check that knows what the missing connection means may say better.
    transport: bool = False


# Cloudflare's own error codes (and the plain gateway codes a proxy answers with).
_EDGE_STATUS = {
    502: Reading("origin-down", "the edge got no valid answer from the origin (Synapse down or its task stopped)"),
    503: Reading("origin-down", "the service is unavailable behind the edge"),
    504: Reading("origin-down", "the edge timed out waiting for the origin gateway"),
    520: Reading("origin-down", "the origin answered with something the edge could not use"),
    521: Reading("origin-down", "the origin refused the edge's connection (web server down)"),
    522: Reading("slow-performance", "the edge timed out connecting to the origin (origin too slow or overloaded)"),
    523: Reading("origin-down", "the origin is unreachable from the edge"),
    524: Reading("slow-performance", "the origin accepted the connection but was too slow to answer"),
    525: Reading("tls-certificate", "the TLS handshake between the edge and the origin failed"),
    526: Reading("tls-certificate", "the origin's certificate is invalid for the edge"),
}

_TRANSPORT = {
    "dns": "dns-misconfigured",
    "tls": "tls-certificate",
    "refused": "edge-misconfigured",
    "connect-timeout": "edge-misconfigured",
    "timeout": "slow-performance",
    "too-large": "edge-misconfigured",
    "protocol": "edge-misconfigured",
    "network": "edge-misconfigured",
}


def read_failure(exchange: Exchange) -> Reading | None:
    """The failure mode the exchange itself proves, whatever was being checked; None if it proves none."""
    if exchange.error is not None:
        if exchange.error.kind == "blocked":
            return None  # the target forbids that connection: the check that wanted it decides
        mode = _TRANSPORT.get(exchange.error.kind, "edge-misconfigured")
        return Reading(mode, f"no HTTP response: {exchange.error}", transport=True)
    if exchange.status is None:
        return None
    if exchange.status in (403, 503) and (exchange.header("cf-mitigated") or "").lower() == "challenge":
        return Reading("edge-blocking", "the edge answered with a challenge (cf-mitigated: challenge)")
    if exchange.status in _EDGE_STATUS:
        return _EDGE_STATUS[exchange.status]
    # Any other status is read by the check that asked: a 500 means "database" to one, "origin" to another.
    return None
