"""DNS: the chat host, the server name and the delegated host resolve, through Cloudflare when the target says so."""

import pytest

from fixtures.surface import HOST_ROLES
from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Severity, check
from synthetics.layers import Layer
from synthetics.resolve import Lookup
from synthetics.target import Target

pytestmark = pytest.mark.parametrize("host_role", HOST_ROLES, indirect=True)


@check(
    layer=Layer.DNS,
    severity=Severity.CRITICAL,
    detects=Mode.DNS_MISCONFIGURED,
    title="The host resolves (A or AAAA)",
    proven_by=("dns-missing[chat-host]", "dns-missing[delegated-host]", "dns-server-name-missing[server-name]"),
)
def test_resolves(dns_lookups: tuple[Lookup, ...]) -> None:
    must.resolve(dns_lookups)


@check(
    layer=Layer.DNS,
    severity=Severity.CRITICAL,
    detects=Mode.DNS_MISCONFIGURED,
    title="Every address of the host is Cloudflare's (proxied, orange cloud)",
    needs=("dns:{host_role}",),
    proven_by=(
        "dns-unproxied[chat-host]",
        "dns-unproxied[delegated-host]",
        "dns-server-name-unproxied[server-name]",
    ),
)
def test_proxied_by_cloudflare(dns_lookups: tuple[Lookup, ...], target: Target) -> None:
    if target.edge.provider != "cloudflare":
        pytest.skip("edge.provider is not cloudflare")
    must.lie_in_cloudflare(dns_lookups)
