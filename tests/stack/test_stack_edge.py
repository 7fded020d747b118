"""The edge, reached as the suite reaches it: public names, HTTP/2, the generated CA."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import typing
from collections.abc import Iterator

import httpx
import pytest
import yaml

from stack import Deployment
from stack._dns import FEDERATION_HOST, PROXIED_A, SRV_PORT
from stack.edge import Timeouts
from synthetics.probe import Route, http_client
from synthetics.target import load_target
from tests.stack._helpers import edge_client, edge_config_changed

pytestmark = pytest.mark.stack

BASE = "https://chat.phenom.test"
APEX = "https://phenom.test"
RAY = re.compile(r"[0-9a-f]{16}-[A-Z]{3}")


def assert_cloudflare(response: httpx.Response) -> None:
    assert response.headers["server"] == "cloudflare"
    assert RAY.fullmatch(response.headers["cf-ray"]), response.headers["cf-ray"]


def test_client_versions_over_http2(client: httpx.Client) -> None:
    response = client.get(f"{BASE}/_matrix/client/versions")
    assert response.status_code == 200
    assert response.http_version == "HTTP/2"
    assert_cloudflare(response)
    assert "v1.11" in response.json()["versions"]


def test_alpn_offers_h2_and_http11(deployment: Deployment) -> None:
    target = yaml.safe_load(deployment.target_path.read_text())
    host, port = target["network"]["connect_to"]["chat.phenom.test:443"].split(":")
    for offered, chosen in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")):
        context = ssl.create_default_context(cafile=target["tls"]["ca_bundle"])
        context.set_alpn_protocols(offered)
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="chat.phenom.test") as tls,
        ):
            assert tls.selected_alpn_protocol() == chosen


def test_http11_clients_are_served(deployment: Deployment) -> None:
    with edge_client(deployment.target_path, http2=False) as http1:
        response = http1.get(f"{BASE}/_matrix/federation/v1/version")
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    assert response.json()["server"]["name"] == "Synapse"
    assert_cloudflare(response)


@pytest.mark.parametrize(
    ("path", "document"),
    [
        ("/.well-known/matrix/server", {"m.server": "chat.phenom.test:443"}),
        ("/.well-known/matrix/client", {"m.homeserver": {"base_url": "https://chat.phenom.test"}}),
    ],
)
def test_well_knowns(client: httpx.Client, path: str, document: dict[str, object]) -> None:
    response = client.get(f"{APEX}{path}")
    assert response.status_code == 200
    assert response.json() == document
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert_cloudflare(response)


def test_well_known_cors_preflight(client: httpx.Client) -> None:
    response = client.options(f"{APEX}/.well-known/matrix/client")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "GET" in response.headers["access-control-allow-methods"]


def test_apex_serves_nothing_else(client: httpx.Client) -> None:
    response = client.get(f"{APEX}/_matrix/client/versions")
    assert response.status_code == 404
    assert_cloudflare(response)


@pytest.mark.parametrize("path", ["/_synapse/admin/v1/server_version", "/_synapse/metrics"])
def test_admin_and_metrics_not_proxied(client: httpx.Client, path: str) -> None:
    response = client.get(f"{BASE}{path}")
    assert response.status_code == 404
    assert_cloudflare(response)


def test_the_federation_listener_proxies_the_server_names_federation_api(deployment: Deployment) -> None:
    # Where an SRV record of the server name points (fed.phenom.test:8443 -> the edge's federation
    # listener): there Host phenom.test reaches Synapse, as a Cloudflare origin rule for 8443 would.
    target = load_target(deployment.target_path)
    with http_client(target, route=Route(FEDERATION_HOST, SRV_PORT)) as federation:
        keys = federation.get(f"{APEX}/_matrix/key/v2/server")
        assert keys.status_code == 200 and keys.json()["server_name"] == "phenom.test"
        assert_cloudflare(keys)
        assert federation.get(f"{APEX}/_matrix/federation/v1/version").json()["server"]["name"] == "Synapse"
        # The edge's blocked prefixes hold there too.
        assert federation.get(f"{APEX}/_synapse/admin/v1/server_version").status_code == 404


def test_the_request_log_says_which_listener_and_names_each_request_came_with(deployment: Deployment) -> None:
    log = deployment.state_dir / "edge-requests.jsonl"
    offset = log.stat().st_size
    target = load_target(deployment.target_path)
    second = PROXIED_A[1]  # the chat host's second IPv4 address, mapped to the edge's other listener
    with (
        http_client(target, route=Route(FEDERATION_HOST, SRV_PORT)) as federation,
        http_client(target, route=Route("chat.phenom.test", 443, second)) as by_address,
        http_client(target, http2=False) as plain,
    ):
        federation.get(f"{APEX}/_matrix/federation/v1/version")
        by_address.get(f"{BASE}/_matrix/client/versions")
        plain.get(f"{BASE}/_matrix/client/versions", headers={"host": "Chat.Phenom.Test:443"})
    with open(log, encoding="utf-8") as lines:
        lines.seek(offset)
        seen = [json.loads(line) for line in lines.read().splitlines() if line.strip()]
    ports = target.network.connect_to
    assert [(r["host"], r["authority"], r["port"], r["sni"], r["status"]) for r in seen] == [
        ("phenom.test", "phenom.test", ports[(FEDERATION_HOST, SRV_PORT)][1], "phenom.test", 200),
        ("chat.phenom.test", "chat.phenom.test", ports[(second, 443)][1], "chat.phenom.test", 200),
        ("chat.phenom.test", "Chat.Phenom.Test:443", ports[("chat.phenom.test", 443)][1], "chat.phenom.test", 200),
    ]


def test_unknown_host_gets_a_cloudflare_error(client: httpx.Client) -> None:
    response = client.get(f"{BASE}/", headers={"host": "elsewhere.example"})
    assert response.status_code == 409
    assert "cloudflare" in response.text.lower()
    assert_cloudflare(response)


def test_trace_reports_negotiated_protocol(client: httpx.Client) -> None:
    response = client.get(f"{BASE}/cdn-cgi/trace")
    assert "http=http/2" in response.text.splitlines()


def test_certificate_is_for_the_public_names(deployment: Deployment) -> None:
    # Without the throwaway CA the edge must not be trusted: it is not a public certificate.
    target = yaml.safe_load(deployment.target_path.read_text())
    host, port = target["network"]["connect_to"]["phenom.test:443"].split(":")
    context = ssl.create_default_context(cafile=target["tls"]["ca_bundle"])
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="phenom.test") as tls,
    ):
        cert = tls.getpeercert()
    assert cert is not None
    alt_names = typing.cast(tuple[tuple[str, str], ...], cert["subjectAltName"])
    names = {value for kind, value in alt_names if kind == "DNS"}
    assert names == {"chat.phenom.test", "phenom.test"}


def test_edge_json_changes_apply_without_restart(deployment: Deployment, client: httpx.Client) -> None:
    with edge_config_changed(deployment.state_dir, colo="AMS"):
        assert client.get(f"{BASE}/cdn-cgi/trace").headers["cf-ray"].endswith("-AMS")
    assert client.get(f"{BASE}/cdn-cgi/trace").headers["cf-ray"].endswith("-IAD")


@pytest.fixture
def silent_origin() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes them) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture
def saturated_origin() -> Iterator[int]:
    """A port whose accept queue is full: new connections are never established (SYNs dropped)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
            yield port
        finally:
            for filler in fillers:
                filler.close()


def test_unreachable_origin_gives_522(deployment: Deployment, client: httpx.Client, saturated_origin: int) -> None:
    with edge_config_changed(
        deployment.state_dir,
        origin_url=f"http://127.0.0.1:{saturated_origin}",
        timeouts=Timeouts(connect_s=0.5),
    ):
        response = client.get(f"{BASE}/_matrix/client/versions")
    assert response.status_code == 522
    assert "Connection timed out" in response.text
    assert_cloudflare(response)


def test_slow_origin_gives_524(deployment: Deployment, client: httpx.Client, silent_origin: int) -> None:
    with edge_config_changed(
        deployment.state_dir,
        origin_url=f"http://127.0.0.1:{silent_origin}",
        timeouts=Timeouts(read_s=0.5),
    ):
        response = client.get(f"{BASE}/_matrix/client/versions")
    assert response.status_code == 524
    assert "A timeout occurred" in response.text
    assert_cloudflare(response)


def test_refused_origin_gives_502(deployment: Deployment, client: httpx.Client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # bound, never listening: connections are refused
        with edge_config_changed(deployment.state_dir, origin_url=f"http://127.0.0.1:{closed_port}"):
            response = client.get(f"{BASE}/_matrix/client/versions")
    assert response.status_code == 502
    assert "Bad gateway" in response.text
    assert_cloudflare(response)
