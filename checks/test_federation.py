"""Federation: delegation, discovery, reachability and server keys (what federation testers check)."""

import pytest

from fixtures.report_data import report_server_version
from synthetics import match, must
from synthetics.catalogue import Mode
from synthetics.check import Reading, Severity, check
from synthetics.exchange import Followed
from synthetics.federation import AddressKeys, Reached, Resolution
from synthetics.layers import Layer
from synthetics.target import Target


@check(
    layer=Layer.FEDERATION,
    severity=Severity.CRITICAL,
    detects=Mode.FEDERATION_BROKEN,
    title="/.well-known/matrix/server delegates to the expected host",
    reads=(Reading.EDGE_ANSWER,),
    needs=("dns:server-name", "tls:server-name"),
    proven_by=("wellknown-wrong", "wellknown-missing"),
)
def test_well_known_server(well_known_server: Followed, target: Target) -> None:
    assert target.homeserver is not None
    if target.homeserver.delegation is None:
        pytest.skip(target.why_absent("homeserver.delegation"))
    must.delegate(well_known_server, target.homeserver.delegation)


@check(
    layer=Layer.FEDERATION,
    severity=Severity.CRITICAL,
    detects=Mode.FEDERATION_BROKEN,
    title="Server discovery finds a host and port for the server name",
    needs=("dns:server-name", "tls:server-name"),
    proven_by=("srv-not-available",),
)
def test_server_discovery(federation_resolution: Resolution) -> None:
    must.discover(federation_resolution)


@check(
    layer=Layer.FEDERATION,
    severity=Severity.CRITICAL,
    detects=Mode.FEDERATION_BROKEN,
    title="Federation goes to a port Cloudflare proxies",
    needs=("dns:server-name", "tls:server-name"),
    proven_by=("wellknown-missing", "waf-challenge", "srv-wrong-port"),
)
def test_federation_port_proxied(federation_resolution: Resolution, target: Target) -> None:
    if target.edge.provider != "cloudflare":
        pytest.skip("edge.provider is not cloudflare")
    must.federate_on_a_cloudflare_port(federation_resolution)


@check(
    layer=Layer.FEDERATION,
    severity=Severity.CRITICAL,
    detects=Mode.FEDERATION_BROKEN,
    title="The federation API answers /version",
    needs=("origin", "dns:delegated-host", "tls:delegated-host"),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("wellknown-wrong", "wellknown-missing", "srv-wrong-port", "srv-not-available"),
)
def test_federation_version(federation_version: Reached, request: pytest.FixtureRequest) -> None:
    must.answer_on_every_candidate(federation_version, match.status(200), match.json_key_present("server.name"))
    server = federation_version.by_candidate[0][1].json()["server"]
    # For the report's environment: which server software answered.
    report_server_version(request, f"{server.get('name')} {server.get('version', '')}".strip())


@check(
    layer=Layer.FEDERATION,
    severity=Severity.CRITICAL,
    detects=Mode.FEDERATION_BROKEN,
    title="Server keys name this server, are valid and every signature verifies",
    needs=("origin", "dns:delegated-host", "tls:delegated-host"),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("keys-invalid", "wellknown-wrong", "wellknown-missing", "srv-wrong-port", "srv-not-available"),
)
def test_server_keys(server_keys: Reached, target: Target) -> None:
    assert target.homeserver is not None
    must.serve_valid_keys_on_every_candidate(server_keys, target.homeserver.server_name)


@check(
    layer=Layer.FEDERATION,
    severity=Severity.NORMAL,
    detects=Mode.FEDERATION_BROKEN,
    title="Every address of the federation host serves the same keys",
    needs=("origin", "dns:delegated-host", "tls:delegated-host"),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("keys-differ-by-address",),
)
def test_keys_same_on_every_address(keys_per_address: AddressKeys, target: Target) -> None:
    assert target.homeserver is not None
    must.agree_on_keys(keys_per_address, target.homeserver.server_name)
