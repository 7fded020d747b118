"""Edge faults, seen from outside as the suite sees them, and healed back to the healthy edge."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

from stack import FAULTS, Deployment
from stack._dns import PROXIED_A, PROXIED_AAAA
from stack.edge._faults import TWIN_KEY_ID
from synthetics.probe import Route, http_client
from synthetics.target import load_target
from tests.stack._helpers import edge_client, pids

pytestmark = pytest.mark.stack

BASE = "https://chat.phenom.test"
APEX = "https://phenom.test"
WELLKNOWN = f"{APEX}/.well-known/matrix/server"
KEYS = f"{BASE}/_matrix/key/v2/server"
VERSIONS = f"{BASE}/_matrix/client/versions"
ADMIN_VERSION = f"{BASE}/_synapse/admin/v1/server_version"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def edge_restored(deployment: Deployment) -> Iterator[None]:
    """Healing must bring edge.json back byte for byte, with no fault left in state.json."""
    path = deployment.state_dir / "edge.json"
    before = path.read_text()
    yield
    assert path.read_text() == before
    assert deployment.status()["faults"] == ""
    assert deployment.status()["edge"] is True


def verify_keys(document: dict[str, Any]) -> None:
    """Raises SignatureVerifyException unless every key of the document signed it."""
    server = document["server_name"]
    for key_id, key in document["verify_keys"].items():
        verify_key = decode_verify_key_bytes(key_id, decode_base64(key["key"]))
        verify_signed_json(document, server, verify_key)


def served_certificate(
    deployment: Deployment, host: str, *, alpn: list[str] | None = None
) -> tuple[dict[str, Any], str | None]:
    """The certificate the edge serves for `host` (verified against the CA) and the ALPN it chose."""
    target = load_target(deployment.target_path)
    address = target.network.connect_to[(host, 443)]
    context = ssl.create_default_context(cafile=target.tls.ca_bundle)
    context.set_alpn_protocols(alpn or ["h2", "http/1.1"])
    with (
        socket.create_connection(address, timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        cert = tls.getpeercert()
        assert cert is not None
        return dict(cert), tls.selected_alpn_protocol()


def days_left(cert: dict[str, Any]) -> float:
    not_after = ssl.cert_time_to_seconds(str(cert["notAfter"]))
    return (not_after - time.time()) / 86400


def test_wellknown_wrong(deployment: Deployment, client: httpx.Client, edge_restored: None) -> None:
    with deployment.injected("wellknown-wrong"):
        response = client.get(WELLKNOWN)
        assert response.status_code == 200
        assert response.json() == {"m.server": "matrix.elsewhere.test:443"}
        assert response.headers["server"] == "cloudflare"
    assert client.get(WELLKNOWN).json() == {"m.server": "chat.phenom.test:443"}


def test_wellknown_missing(deployment: Deployment, client: httpx.Client, edge_restored: None) -> None:
    with deployment.injected("wellknown-missing"):
        assert client.get(WELLKNOWN).status_code == 404
        # The fallback of server discovery, port 8448, has nothing listening (Cloudflare does not proxy it).
        for host in ("phenom.test", "chat.phenom.test"):
            with pytest.raises(httpx.ConnectError):
                client.get(f"https://{host}:8448/_matrix/key/v2/server")
        # The client well-known is another matter and stays.
        assert client.get(f"{APEX}/.well-known/matrix/client").status_code == 200
    assert client.get(WELLKNOWN).status_code == 200


def test_keys_invalid(deployment: Deployment, client: httpx.Client, edge_restored: None) -> None:
    healthy = client.get(KEYS).json()
    verify_keys(healthy)
    with deployment.injected("keys-invalid"):
        response = client.get(KEYS)
        assert response.status_code == 200
        faulty = response.json()
        assert faulty["server_name"] == "phenom.test"
        assert faulty["verify_keys"] == healthy["verify_keys"]
        for key_id, signature in faulty["signatures"]["phenom.test"].items():
            # Still a well-formed ed25519 signature; only verifying it tells.
            assert len(decode_base64(signature)) == 64
            assert signature != healthy["signatures"]["phenom.test"][key_id]
        with pytest.raises(SignatureVerifyException):
            verify_keys(faulty)
    verify_keys(client.get(KEYS).json())


def test_keys_differ_by_address(deployment: Deployment, client: httpx.Client, edge_restored: None) -> None:
    target = load_target(deployment.target_path)

    def keys_at(address: str) -> dict[str, Any]:
        with http_client(target, route=Route("chat.phenom.test", 443, address)) as one_address:
            document: dict[str, Any] = one_address.get(KEYS).json()
        verify_keys(document)  # valid and well signed, whichever origin it comes from
        return document

    addresses = (*PROXIED_A, *PROXIED_AAAA)
    healthy = client.get(KEYS).json()["verify_keys"]
    assert all(keys_at(address)["verify_keys"] == healthy for address in addresses)
    with deployment.injected("keys-differ-by-address"):
        served = {address: keys_at(address) for address in addresses}
        # The first address of each family reaches Synapse; the second, an origin with its own key.
        assert [served[a]["verify_keys"] == healthy for a in addresses] == [True, False, True, False]
        for address in (PROXIED_A[1], PROXIED_AAAA[1]):
            assert served[address]["server_name"] == "phenom.test"
            assert list(served[address]["verify_keys"]) == [TWIN_KEY_ID]
        assert client.get(KEYS).json()["verify_keys"] == healthy  # the chat host's own name: unchanged
    assert all(keys_at(address)["verify_keys"] == healthy for address in addresses)


def test_slow_origin(deployment: Deployment, client: httpx.Client, edge_restored: None) -> None:
    with deployment.injected("slow-origin"):
        started = time.monotonic()
        response = client.get(VERSIONS)
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert 2.9 <= elapsed < 5.0
        # The edge's own answers are not the origin's: the well-known stays quick.
        started = time.monotonic()
        assert client.get(WELLKNOWN).status_code == 200
        assert time.monotonic() - started < 2.0
    started = time.monotonic()
    assert client.get(VERSIONS).status_code == 200
    assert time.monotonic() - started < 2.0


def test_admin_exposed(deployment: Deployment, client: httpx.Client, edge_restored: None) -> None:
    assert client.get(ADMIN_VERSION).status_code == 404
    with deployment.injected("admin-exposed"):
        response = client.get(ADMIN_VERSION)
        assert response.status_code == 200
        assert response.json()["server_version"].startswith("1.163")
        assert response.headers["server"] == "cloudflare"
        assert client.get(f"{BASE}/_synapse/metrics").status_code == 404
    assert client.get(ADMIN_VERSION).status_code == 404


def test_waf_challenge(deployment: Deployment, client: httpx.Client, edge_restored: None) -> None:
    with deployment.injected("waf-challenge"):
        for url in (VERSIONS, WELLKNOWN):
            response = client.get(url)
            assert response.status_code == 403
            assert response.headers["cf-mitigated"] == "challenge"
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["server"] == "cloudflare"
            assert "<title>Just a moment...</title>" in response.text
        # A browser passes (in real life, after running the challenge's script).
        assert client.get(VERSIONS, headers={"user-agent": BROWSER}).status_code == 200
    response = client.get(VERSIONS)
    assert response.status_code == 200
    assert "cf-mitigated" not in response.headers


def test_cert_expiring(deployment: Deployment, edge_restored: None) -> None:
    assert days_left(served_certificate(deployment, "chat.phenom.test")[0]) > 80
    with deployment.injected("cert-expiring"):
        for host in ("chat.phenom.test", "phenom.test"):
            cert, _ = served_certificate(deployment, host)
            assert 4.9 < days_left(cert) <= 5.0
        with edge_client(deployment.target_path) as fresh:
            assert fresh.get(VERSIONS).status_code == 200  # still trusted: same CA, only shorter
    assert days_left(served_certificate(deployment, "chat.phenom.test")[0]) > 80


def test_http1_only(deployment: Deployment, edge_restored: None) -> None:
    with deployment.injected("http1-only"):
        assert served_certificate(deployment, "chat.phenom.test", alpn=["h2", "http/1.1"])[1] == "http/1.1"
        with edge_client(deployment.target_path, http2=True) as fresh:
            response = fresh.get(VERSIONS)
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
    with edge_client(deployment.target_path, http2=True) as fresh:
        assert fresh.get(VERSIONS).http_version == "HTTP/2"


def test_pooled_connections_survive_edge_restarts(deployment: Deployment, edge_restored: None) -> None:
    # The TLS faults restart the edge; a client's pooled HTTP/2 connection (the session `client`'s,
    # say) is told by GOAWAY and reconnects rather than failing its next request.
    with edge_client(deployment.target_path) as pooled:
        assert pooled.get(VERSIONS).http_version == "HTTP/2"
        with deployment.injected("cert-expiring"):
            assert pooled.get(VERSIONS).status_code == 200
        assert pooled.get(VERSIONS).status_code == 200


def test_edge_faults_combine_and_heal_in_any_order(
    deployment: Deployment, client: httpx.Client, edge_restored: None
) -> None:
    try:
        deployment.fault("wellknown-wrong")
        deployment.fault("wellknown-missing")
        deployment.fault("admin-exposed")
        assert client.get(WELLKNOWN).status_code == 404
        deployment.heal("wellknown-missing")
        assert client.get(WELLKNOWN).json() == {"m.server": "matrix.elsewhere.test:443"}
        assert client.get(ADMIN_VERSION).status_code == 200
        deployment.heal("wellknown-wrong")
        assert client.get(WELLKNOWN).json() == {"m.server": "chat.phenom.test:443"}
        assert client.get(ADMIN_VERSION).status_code == 200
    finally:
        deployment.heal()
    assert client.get(ADMIN_VERSION).status_code == 404


def test_healing_a_fault_never_injected_changes_nothing(deployment: Deployment, edge_restored: None) -> None:
    edge_pid = pids(deployment.state_dir)["edge"]
    for name in ("http1-only", "cert-expiring", "waf-challenge"):
        deployment.heal(name)
    assert pids(deployment.state_dir)["edge"] == edge_pid  # not restarted


def test_edge_faults_name_their_failure_mode() -> None:
    expected = {
        "wellknown-wrong": "federation-broken",
        "wellknown-missing": "federation-broken",
        "keys-invalid": "federation-broken",
        "keys-differ-by-address": "federation-broken",
        "slow-origin": "slow-performance",
        "cert-expiring": "tls-certificate",
        "admin-exposed": "security-exposure",
        "waf-challenge": "edge-blocking",
        "http1-only": "edge-misconfigured",
    }
    assert {name: FAULTS[name] for name in expected} == expected
