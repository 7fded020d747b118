"""Server discovery end to end, step by step of the spec's "Resolving server names": where the
connection goes, and the `Host` header and SNI a loopback TLS server receives there.

DNS (SRV included) comes from a loopback DNS server; every connection goes where the target's
`network.connect_to` maps it (`connect_to_only`), so nothing leaves the machine. Each test names
the step it covers; the pure rules are in tests/unit/test_federation.py. The last tests take step 4
to the reference deployment: its zone's SRV record, its edge's federation listener and real
Synapse's federation API and keys behind it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from fixtures.surface import FEDERATION_VERSION, KEYS_PER_ADDRESS, SERVER_KEYS, WELL_KNOWN_CLIENT
from stack._dns import FEDERATION_HOST, PROXIED_A, PROXIED_AAAA, SRV_PORT
from stack._synapse import SERVER_NAME
from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import CheckInfo, Severity, current_check
from synthetics.exchange import Followed
from synthetics.federation import Candidate, Reached, read_server_keys
from synthetics.layers import Layer
from synthetics.probe import Prober
from synthetics.survey import Probe, RunSettings, Survey
from synthetics.target import load_target
from tests.suite.conftest import Reference
from tests.suite.proofs import discovered_by_srv
from tests.support.dns_responder import DnsResponder
from tests.support.loopback import LoopbackServer, read_request_head

# Every name and address the servers below hold a certificate for (the IPs as IP SANs).
NAMES = ("example.test", "chat.example.test", "fed.example.test", "192.0.2.7", "2001:db8::1", "2001:db8::7")


@dataclass(frozen=True)
class Seen:
    sni: str | None  # what the client's TLS hello named (None: no SNI, as for an IP address)
    host: str  # the Host header
    path: str


class RecordingServer(LoopbackServer):
    """HTTPS (HTTP/1.1) on 127.0.0.1 with a certificate for NAMES; records what each request says."""

    def __init__(self, ca: trustme.CA, routes: Mapping[str, tuple[int, dict[str, str], bytes]] | None = None) -> None:
        super().__init__()
        self.seen: list[Seen] = []
        self._routes = dict(routes or {})
        self._sni: dict[int, str | None] = {}
        self._lock = threading.Lock()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*NAMES).configure_cert(self._context)
        self._context.set_alpn_protocols(["http/1.1"])
        self._context.sni_callback = self._hello

    def _hello(self, connection: Any, name: str | None, _context: ssl.SSLContext) -> None:
        self._sni[id(connection)] = name

    def _handle(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            connection = self._context.wrap_socket(client, server_side=True)
            connection.settimeout(5)
            while not self._stop.is_set():
                request = read_request_head(connection)
                if request is None:
                    return
                lines = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                with self._lock:
                    self.seen.append(Seen(self._sni.get(id(connection)), headers.get("host", ""), path))
                status, extra, body = self._routes.get(path, (404, {}, b'{"errcode": "M_NOT_FOUND"}'))
                if path == "/_matrix/federation/v1/version":
                    status, extra, body = 200, {}, b'{"server": {"name": "Loopback", "version": "1"}}'
                head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in extra.items())
                connection.sendall(head.encode() + b"\r\n" + body)

    def federation(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.path.startswith("/_matrix/")]


def well_known(m_server: str) -> dict[str, tuple[int, dict[str, str], bytes]]:
    return {"/.well-known/matrix/server": (200, {}, json.dumps({"m.server": m_server}).encode())}


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def target_file(
    directory: Path, ca: trustme.CA, server_name: str, dns_port: int, connect_to: Mapping[str, int]
) -> Path:
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    document = {
        "name": "discovery",
        "homeserver": {"base_url": "https://chat.example.test", "server_name": server_name},
        "edge": {"provider": "none"},
        "tls": {"ca_bundle": str(bundle)},
        "dns": {"nameservers": [f"127.0.0.1:{dns_port}"]},
        "network": {
            "timeout_s": 2,
            "connect_to_only": True,
            "connect_to": {where: f"127.0.0.1:{port}" for where, port in connect_to.items()},
        },
    }
    path = directory / "target.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def result(path: Path, probe: Probe[Any]) -> Any:
    target = load_target(path)
    prober = Prober(target)
    try:
        return Survey([probe], target, prober, RunSettings(datetime.now(UTC), 0.0), deadline_s=20).result(probe)
    finally:
        prober.close()


def version(path: Path) -> Reached:
    reached: Reached = result(path, FEDERATION_VERSION)
    for _candidate, exchange in reached.by_candidate:
        assert exchange.status == 200, exchange.summary()
    return reached


@contextlib.contextmanager
def dns(records: Mapping[tuple[str, str], list[str]] | None = None) -> Iterator[int]:
    with DnsResponder(records=records) as responder:
        yield responder.port


def test_step_1_an_ipv4_literal_gets_8448_no_sni_and_the_name_as_host(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingServer(ca) as server, dns() as dns_port:
        path = target_file(tmp_path, ca, "192.0.2.7", dns_port, {"192.0.2.7:8448": server.port})
        reached = version(path)
    assert reached.resolution.step == "1"
    # The certificate is checked for the IP address (an IP SAN); no SNI is sent for an address.
    assert server.federation() == [Seen(None, "192.0.2.7", "/_matrix/federation/v1/version")]


def test_step_1_an_ipv6_literal_with_port_keeps_its_brackets_in_the_host(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingServer(ca) as server, dns() as dns_port:
        path = target_file(tmp_path, ca, "[2001:db8::1]:8448", dns_port, {"[2001:db8::1]:8448": server.port})
        version(path)
    assert server.federation() == [Seen(None, "[2001:db8::1]:8448", "/_matrix/federation/v1/version")]


def test_step_1_an_ipv6_literal_without_port_goes_to_8448_with_a_bare_host(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingServer(ca) as server, dns() as dns_port:
        path = target_file(tmp_path, ca, "[2001:db8::1]", dns_port, {"[2001:db8::1]:8448": server.port})
        version(path)
    assert [seen.host for seen in server.federation()] == ["[2001:db8::1]"]


def test_step_2_an_explicit_port_sends_name_and_port_and_skips_the_well_known(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingServer(ca, well_known("elsewhere.test:443")) as server, dns() as dns_port:
        path = target_file(tmp_path, ca, "example.test:8449", dns_port, {"example.test:8449": server.port})
        version(path)
    assert server.seen == [Seen("example.test", "example.test:8449", "/_matrix/federation/v1/version")]


def test_step_3_1_a_delegated_ipv6_literal_is_used_with_its_port(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingServer(ca, well_known("[2001:db8::7]:443")) as server, dns() as dns_port:
        connect_to = {"example.test:443": server.port, "[2001:db8::7]:443": server.port}
        version(target_file(tmp_path, ca, "example.test", dns_port, connect_to))
    assert server.federation() == [Seen(None, "[2001:db8::7]:443", "/_matrix/federation/v1/version")]


def test_step_3_2_a_delegated_port_sends_the_delegated_name_and_port(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingServer(ca, well_known("fed.example.test:8443")) as server, dns() as dns_port:
        connect_to = {"example.test:443": server.port, "fed.example.test:8443": server.port}
        version(target_file(tmp_path, ca, "example.test", dns_port, connect_to))
    assert server.federation() == [Seen("fed.example.test", "fed.example.test:8443", "/_matrix/federation/v1/version")]


def test_step_3_3_the_delegated_srv_target_gets_the_connection_the_delegated_name_tls_and_host(
    tmp_path: Path, ca: trustme.CA
) -> None:
    srv = {("_matrix-fed._tcp.fed.example.test", "SRV"): ["10 0 8443 target.example.net."]}
    with (
        RecordingServer(ca, well_known("fed.example.test")) as apex,
        RecordingServer(ca) as federation,
        dns(srv) as dns_port,
    ):
        connect_to = {"example.test:443": apex.port, "target.example.net:8443": federation.port}
        reached = version(target_file(tmp_path, ca, "example.test", dns_port, connect_to))
    assert reached.resolution.step == "3.3"
    # Connected to the SRV target's port; SNI, certificate and Host name the delegated host, no port.
    assert federation.seen == [Seen("fed.example.test", "fed.example.test", "/_matrix/federation/v1/version")]
    assert "connected to target.example.net:8443" in reached.by_candidate[0][1].request_line


def test_step_4_the_server_names_srv_target_gets_the_connection_the_server_name_tls_and_host(
    tmp_path: Path, ca: trustme.CA
) -> None:
    srv = {("_matrix-fed._tcp.example.test", "SRV"): ["0 0 8443 srv.example.net."]}
    with RecordingServer(ca) as apex, RecordingServer(ca) as federation, dns(srv) as dns_port:
        connect_to = {"example.test:443": apex.port, "srv.example.net:8443": federation.port}
        reached = version(target_file(tmp_path, ca, "example.test", dns_port, connect_to))
    assert reached.resolution.step == "4"
    assert federation.seen == [Seen("example.test", "example.test", "/_matrix/federation/v1/version")]
    assert apex.federation() == []  # not the server name on the SRV port


def test_step_5_the_deprecated_srv_record_is_followed_the_same_way(tmp_path: Path, ca: trustme.CA) -> None:
    srv = {("_matrix._tcp.example.test", "SRV"): ["0 0 8444 old.example.net."]}
    with RecordingServer(ca) as apex, RecordingServer(ca) as federation, dns(srv) as dns_port:
        connect_to = {"example.test:443": apex.port, "old.example.net:8444": federation.port}
        reached = version(target_file(tmp_path, ca, "example.test", dns_port, connect_to))
    assert reached.resolution.step == "5"
    assert federation.seen == [Seen("example.test", "example.test", "/_matrix/federation/v1/version")]


def test_step_6_no_srv_goes_to_8448_with_the_bare_name_as_host(tmp_path: Path, ca: trustme.CA) -> None:
    with RecordingServer(ca) as apex, RecordingServer(ca) as federation, dns() as dns_port:
        connect_to = {"example.test:443": apex.port, "example.test:8448": federation.port}
        reached = version(target_file(tmp_path, ca, "example.test", dns_port, connect_to))
    assert reached.resolution.step == "6"
    assert federation.seen == [Seen("example.test", "example.test", "/_matrix/federation/v1/version")]


def test_every_srv_record_of_the_lowest_priority_is_probed(tmp_path: Path, ca: trustme.CA) -> None:
    srv = {
        ("_matrix-fed._tcp.example.test", "SRV"): [
            "10 10 8443 b.example.net.",
            "10 90 8443 a.example.net.",
            "20 0 8443 backup.example.net.",
        ]
    }
    with (
        RecordingServer(ca) as apex,
        RecordingServer(ca) as a,
        RecordingServer(ca) as b,
        RecordingServer(ca) as backup,
        dns(srv) as dns_port,
    ):
        connect_to = {
            "example.test:443": apex.port,
            "a.example.net:8443": a.port,
            "b.example.net:8443": b.port,
            "backup.example.net:8443": backup.port,
        }
        reached = version(target_file(tmp_path, ca, "example.test", dns_port, connect_to))
    assert [c.host for c, _exchange in reached.by_candidate] == ["a.example.net", "b.example.net"]
    assert len(a.seen) == len(b.seen) == 1 and backup.seen == []


def test_keys_per_address_go_to_the_srv_target_not_the_server_name(tmp_path: Path, ca: trustme.CA) -> None:
    # Without connect_to_only a per-address probe would dial the SRV target's addresses; with the
    # target's connect_to mapping the candidate, it says so instead of bypassing the map.
    srv = {("_matrix-fed._tcp.example.test", "SRV"): ["0 0 8443 srv.example.net."]}
    with RecordingServer(ca) as apex, RecordingServer(ca) as federation, dns(srv) as dns_port:
        connect_to = {"example.test:443": apex.port, "srv.example.net:8443": federation.port}
        per_address = result(target_file(tmp_path, ca, "example.test", dns_port, connect_to), KEYS_PER_ADDRESS)
    assert "srv.example.net:8443" in per_address.note and per_address.by_address == ()


# -- client discovery: web clients follow redirects ----------------------------------------------


def client_check() -> None:
    info = CheckInfo("client_discovery.well_known_client", "t", Layer.CLIENT_API, Severity.NORMAL,
                     Mode.CLIENT_DISCOVERY_BROKEN)  # fmt: skip
    current_check.set(info)


def test_a_redirected_client_well_known_passes_with_a_warning(tmp_path: Path, ca: trustme.CA) -> None:
    document = json.dumps({"m.homeserver": {"base_url": "https://chat.example.test"}}).encode()
    routes = {
        "/.well-known/matrix/client": (301, {"location": "https://chat.example.test/.well-known/matrix/client"}, b""),
    }
    cors = {"access-control-allow-origin": "*"}
    with (
        RecordingServer(ca, routes) as apex,
        RecordingServer(ca, {"/.well-known/matrix/client": (200, cors, document)}) as chat,
        dns() as dns_port,
    ):
        connect_to = {"example.test:443": apex.port, "chat.example.test:443": chat.port}
        followed: Followed = result(target_file(tmp_path, ca, "example.test", dns_port, connect_to), WELL_KNOWN_CLIENT)
    client_check()
    observed, token = must.observing()
    try:
        must.advertise_homeserver(followed, "https://chat.example.test")
    finally:
        must.stop_observing(token)
    assert [w.message for w in observed.warnings if "redirect" in w.message], observed.warnings


def test_a_client_well_known_redirect_loop_fails(tmp_path: Path, ca: trustme.CA) -> None:
    loop = {"/.well-known/matrix/client": (302, {"location": "/.well-known/matrix/client"}, b"")}
    with RecordingServer(ca, loop) as apex, dns() as dns_port:
        path = target_file(tmp_path, ca, "example.test", dns_port, {"example.test:443": apex.port})
        followed: Followed = result(path, WELL_KNOWN_CLIENT)
    client_check()
    with pytest.raises(must.CheckFailed, match="redirect loop"):
        must.advertise_homeserver(followed, "https://chat.example.test")


# -- step 4 on the reference deployment: real DNS, the edge's listeners, real Synapse behind them ----


class EdgeRequests:
    """What the reference edge's request log gains from now on (one JSON line per request: host,
    authority, path, status, and the listener's port and the TLS name the connection came with)."""

    def __init__(self, reference: Reference) -> None:
        self.path = reference.deployment.state_dir / "edge-requests.jsonl"
        self.offset = self.path.stat().st_size

    def federation(self) -> list[dict[str, Any]]:
        with open(self.path, encoding="utf-8") as log:
            log.seek(self.offset)
            lines = [json.loads(line) for line in log.read().splitlines() if line.strip()]
        return [line for line in lines if line["path"].startswith("/_matrix/")]


@pytest.mark.stack
def test_step_4_on_the_reference_deployment_reaches_synapse_at_the_srv_target_with_the_server_name(
    reference: Reference, tmp_path: Path
) -> None:
    requests = EdgeRequests(reference)
    with discovered_by_srv(reference, tmp_path) as path:
        version: Reached = result(path, FEDERATION_VERSION)
        keys: Reached = result(path, SERVER_KEYS)
    resolution = version.resolution
    assert resolution.step == "4", resolution.describe()
    assert resolution.candidates == (Candidate(FEDERATION_HOST, SRV_PORT),)
    # Where TCP goes is the SRV target; what the requests name is the server name, without a port.
    assert (resolution.host, resolution.host_header) == (SERVER_NAME, SERVER_NAME)
    [(_, answered)] = version.by_candidate
    assert answered.status == 200 and answered.json()["server"]["name"] == "Synapse", answered.summary()
    assert f"connected to {FEDERATION_HOST}:{SRV_PORT}" in answered.request_line
    [(_, served)] = keys.by_candidate
    assert read_server_keys(served.json(), SERVER_NAME).problems == (), served.summary()
    # The edge saw both on its federation listener (the port the target maps the SRV target's 8443
    # to), each with SNI and Host the server name: no federation request went anywhere else.
    listener = load_target(path).network.connect_to[(FEDERATION_HOST, SRV_PORT)][1]
    seen = sorted((r["path"], r["port"], r["sni"], r["authority"], r["status"]) for r in requests.federation())
    assert seen == [
        ("/_matrix/federation/v1/version", listener, SERVER_NAME, SERVER_NAME, 200),
        ("/_matrix/key/v2/server", listener, SERVER_NAME, SERVER_NAME, 200),
    ]


@pytest.mark.stack
def test_every_address_of_the_federation_host_is_probed_at_its_own_listener(reference: Reference) -> None:
    # The reference target maps each of the chat host's four addresses (address:443) to an edge
    # listener of its own family's pair, so the keys of every address are fetched one by one.
    requests = EdgeRequests(reference)
    per_address = result(reference.target, KEYS_PER_ADDRESS)
    assert per_address.note == ""
    assert [address for address, _exchange in per_address.by_address] == [*PROXIED_A, *PROXIED_AAAA]
    assert all(exchange.status == 200 for _address, exchange in per_address.by_address)
    connect_to = load_target(reference.target).network.connect_to
    expected = sorted(connect_to[(address, 443)][1] for address in (*PROXIED_A, *PROXIED_AAAA))
    assert sorted(r["port"] for r in requests.federation()) == expected
    assert len(set(expected)) == 2  # the edge's two listeners
