"""The edge: Cloudflare in front, and not in the way of Matrix traffic."""

import pytest

from synthetics import match, must
from synthetics.catalogue import Mode
from synthetics.check import Severity, check
from synthetics.exchange import Exchange
from synthetics.layers import Layer
from synthetics.target import Target


@check(
    layer=Layer.EDGE,
    severity=Severity.NORMAL,
    detects=Mode.EDGE_MISCONFIGURED,
    title="Responses come through Cloudflare (server: cloudflare, cf-ray)",
    needs=("dns:chat-host", "tls:chat-host"),
    proven_by=("edge-bypassed",),
)
def test_served_by_cloudflare(client_versions: Exchange, target: Target) -> None:
    if target.edge.provider != "cloudflare":
        pytest.skip("edge.provider is not cloudflare")
    must.match_response(client_versions, match.header_equals("server", "cloudflare"), match.header_present("cf-ray"))


@check(
    layer=Layer.EDGE,
    severity=Severity.CRITICAL,
    detects=Mode.EDGE_BLOCKING,
    title="Matrix API traffic is not challenged, whatever its User-Agent",
    needs=("dns:chat-host", "tls:chat-host"),
    proven_by=("waf-challenge",),
)
def test_not_challenged(user_agent_probes: dict[str, Exchange]) -> None:
    must.not_be_challenged(user_agent_probes)
