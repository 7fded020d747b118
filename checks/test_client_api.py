"""Client-server API: the runbook's own "Verify it is working" commands."""

from synthetics import match, must
from synthetics.check import check
from synthetics.probe import Exchange


@check(
    layer="client-api",
    severity="critical",
    detects="origin-down",
    title="Client API answers /versions with its spec versions",
)
def test_versions(client_versions: Exchange) -> None:
    # curl -sf <base_url>/_matrix/client/versions | grep -o '"versions"'
    must.match_response(
        client_versions, match.status(200), match.json_body(), match.json_key_nonempty_strings("versions")
    )


@check(
    layer="edge",
    severity="critical",
    detects="edge-misconfigured",
    title="Client API answers /versions with HTTP/2 200",
)
def test_versions_http2(client_versions: Exchange) -> None:
    # curl -si <base_url>/_matrix/client/versions | grep "^HTTP"  ->  HTTP/2 200
    must.match_response(client_versions, match.status(200), match.http_version("HTTP/2"))
