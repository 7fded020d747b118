"""Federation: delegation, discovery, reachability and server keys (what federation testers check)."""

import pytest

from synthetics import match, must
from synthetics.check import SERVER_VERSION, check
from synthetics.exchange import Exchange, Followed
from synthetics.federation import AddressKeys, Resolution
from synthetics.target import Target


@check(
    layer="federation",
    severity="critical",
    detects="federation-broken",
    title="/.well-known/matrix/server delegates to the expected host",
)
def test_well_known_server(well_known_server: Followed, target: Target) -> None:
    assert target.homeserver is not None
    if target.homeserver.delegation is None:
        pytest.skip(target.why_absent("homeserver.delegation"))
    must.delegate(well_known_server, target.homeserver.delegation)


@check(
    layer="federation",
    severity="critical",
    detects="federation-broken",
    title="Server discovery finds a host and port for the server name",
)
def test_server_discovery(federation_resolution: Resolution) -> None:
    must.discover(federation_resolution)


@check(
    layer="federation",
    severity="critical",
    detects="federation-broken",
    title="Federation goes to a port Cloudflare proxies",
)
def test_federation_port_proxied(federation_resolution: Resolution, target: Target) -> None:
    if target.edge.provider != "cloudflare":
        pytest.skip("edge.provider is not cloudflare")
    must.federate_on_a_cloudflare_port(federation_resolution)


@check(
    layer="federation",
    severity="critical",
    detects="federation-broken",
    title="The federation API answers /version",
    needs=("origin",),
)
def test_federation_version(federation_version: Exchange, request: pytest.FixtureRequest) -> None:
    must.match_response(
        federation_version, match.status(200), match.json_key_present("server.name"), failure_mode="federation-broken"
    )
    server = federation_version.json()["server"]
    # For the report's environment: which server software answered.
    request.node.user_properties.append((SERVER_VERSION, f"{server.get('name')} {server.get('version', '')}".strip()))


@check(
    layer="federation",
    severity="critical",
    detects="federation-broken",
    title="Server keys name this server, are valid and every signature verifies",
    needs=("origin",),
)
def test_server_keys(server_keys: Exchange, target: Target) -> None:
    assert target.homeserver is not None
    must.serve_valid_keys(server_keys, target.homeserver.server_name)


@check(
    layer="federation",
    severity="normal",
    detects="federation-broken",
    title="Every address of the federation host serves the same keys",
    needs=("origin",),
)
def test_keys_same_on_every_address(keys_per_address: AddressKeys, target: Target) -> None:
    assert target.homeserver is not None
    must.agree_on_keys(keys_per_address, target.homeserver.server_name)
