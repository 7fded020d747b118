"""Client-server API: the runbook's "Verify it is working" commands, the database behind them, latency."""

from synthetics import match, must
from synthetics.catalogue import Mode
from synthetics.check import Reading, Severity, check
from synthetics.exchange import Exchange
from synthetics.latency import Latency
from synthetics.layers import Layer


@check(
    layer=Layer.CLIENT_API,
    severity=Severity.CRITICAL,
    detects=Mode.ORIGIN_DOWN,
    title="Client API answers /versions with its spec versions",
    needs=("dns:chat-host", "tls:chat-host"),
    proven_by=("synapse-down", "edge-blip", "edge-blip-confirmed"),
)
def test_versions(client_versions: Exchange) -> None:
    # curl -sf <base_url>/_matrix/client/versions | grep -o '"versions"'
    must.match_response(
        client_versions, match.status(200), match.json_body(), match.json_key_nonempty_strings("versions")
    )


@check(
    layer=Layer.EDGE,
    severity=Severity.CRITICAL,
    detects=Mode.EDGE_MISCONFIGURED,
    title="Client API answers /versions with HTTP/2 200",
    needs=("origin",),
    proven_by=("http1-only",),
)
def test_versions_http2(client_versions: Exchange) -> None:
    # curl -si <base_url>/_matrix/client/versions | grep "^HTTP"  ->  HTTP/2 200
    must.match_response(client_versions, match.status(200), match.http_version("HTTP/2"))


@check(
    layer=Layer.CLIENT_API,
    severity=Severity.CRITICAL,
    detects=Mode.DATABASE_ERRORS,
    title="A database-backed endpoint answers (room alias lookup)",
    needs=("origin",),
    proven_by=("db-down", "db-connections-refused"),
)
def test_database_answers(alias_lookup: Exchange) -> None:
    # Needs no login and reads the database: 404 M_NOT_FOUND when healthy, 500 when the database fails,
    # while /versions keeps answering 200. Together they tell "process down" from "database failing".
    must.match_response(alias_lookup, match.status(404), match.json_field("errcode", "M_NOT_FOUND"))


@check(
    layer=Layer.CLIENT_API,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="Client API latency (p95 of /versions) is within the threshold",
    needs=("origin",),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("slow-origin", "slow-origin-warning"),
)
def test_latency(latency: Latency) -> None:
    must.stay_within(latency)
