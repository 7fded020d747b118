"""The zone's authoritative DNS server, asked as a resolver would: over UDP and TCP, on loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from stack import FAULTS, Deployment, _dns
from stack._layout import Layout
from synthetics.target import load_target

pytestmark = pytest.mark.stack

# Cloudflare's published ranges (www.cloudflare.com/ips).
CLOUDFLARE = [
    ipaddress.ip_network(net)
    for net in [
        "173.245.48.0/20",
        "103.21.244.0/22",
        "103.22.200.0/22",
        "103.31.4.0/22",
        "141.101.64.0/18",
        "108.162.192.0/18",
        "190.93.240.0/20",
        "188.114.96.0/20",
        "197.234.240.0/22",
        "198.41.128.0/17",
        "162.158.0.0/15",
        "104.16.0.0/13",
        "104.24.0.0/14",
        "172.64.0.0/13",
        "131.0.72.0/22",
        "2400:cb00::/32",
        "2606:4700::/32",
        "2803:f800::/32",
        "2405:b500::/32",
        "2405:8100::/32",
        "2a06:98c0::/29",
        "2c0f:f248::/32",
    ]
]
HOSTS = ("chat.phenom.test", "phenom.test", "fed.phenom.test")
TIMEOUT_S = 2.0


def in_cloudflare(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in net for net in CLOUDFLARE)


@pytest.fixture(scope="module")
def nameserver(deployment: Deployment) -> tuple[str, int]:
    servers = load_target(deployment.target_path).dns.nameservers
    assert len(servers) == 1
    return servers[0]


@pytest.fixture(params=[False, True], ids=["udp", "tcp"])
def tcp(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def resolver(nameserver: tuple[str, int]) -> dns.resolver.Resolver:
    # Not the machine's resolver configuration: only the deployment's server is asked.
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [nameserver[0]]
    res.port = nameserver[1]
    res.timeout = res.lifetime = TIMEOUT_S
    res.cache = None
    return res


def ask(nameserver: tuple[str, int], name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    """One query, the whole response (rcode, flags, authority) as the server sent it."""
    query = dns.message.make_query(name, rdtype)
    host, port = nameserver
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=TIMEOUT_S)
    return dns.query.udp(query, host, port=port, timeout=TIMEOUT_S)


def addresses(nameserver: tuple[str, int], name: str, rdtype: str, *, tcp: bool = False) -> set[str]:
    answer = resolver(nameserver).resolve(name, rdtype, tcp=tcp)
    return {rdata.to_text() for rdata in answer}


@pytest.mark.parametrize("host", HOSTS)
def test_addresses_are_in_cloudflare_ranges(nameserver: tuple[str, int], tcp: bool, host: str) -> None:
    v4 = addresses(nameserver, host, "A", tcp=tcp)
    v6 = addresses(nameserver, host, "AAAA", tcp=tcp)
    assert v4 and all(in_cloudflare(a) and ipaddress.ip_address(a).version == 4 for a in v4), v4
    assert v6 and all(in_cloudflare(a) and ipaddress.ip_address(a).version == 6 for a in v6), v6


def test_answers_are_authoritative(nameserver: tuple[str, int], tcp: bool) -> None:
    response = ask(nameserver, "chat.phenom.test", "A", tcp=tcp)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert not response.flags & dns.flags.RA  # authoritative only: no recursion offered


def test_ns_and_soa_name_cloudflare(nameserver: tuple[str, int], tcp: bool) -> None:
    ns = addresses(nameserver, "phenom.test", "NS", tcp=tcp)
    assert len(ns) >= 2
    assert all(name.endswith(".ns.cloudflare.com.") for name in ns), ns
    soa = resolver(nameserver).resolve("phenom.test", "SOA", tcp=tcp)[0]
    assert soa.mname.to_text() in ns
    assert soa.rname.to_text() == "dns.cloudflare.com."


def test_unknown_name_is_nxdomain_with_soa(nameserver: tuple[str, int], tcp: bool) -> None:
    response = ask(nameserver, "nope.phenom.test", "A", tcp=tcp)
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]
    assert response.authority[0].name.to_text() == "phenom.test."


def test_missing_type_is_nodata_with_soa(nameserver: tuple[str, int]) -> None:
    response = ask(nameserver, "chat.phenom.test", "TXT")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]


@pytest.mark.parametrize("name", ["example.com", "thephenom.app", "test"])
def test_names_outside_the_zone_are_refused(nameserver: tuple[str, int], tcp: bool, name: str) -> None:
    response = ask(nameserver, name, "A", tcp=tcp)
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA
    assert response.answer == []


def test_case_is_kept_in_the_answer(nameserver: tuple[str, int]) -> None:
    response = ask(nameserver, "ChAt.PhEnOm.TeSt", "A")
    assert response.answer[0].name.to_text() == "ChAt.PhEnOm.TeSt."


def test_garbage_gets_formerr(nameserver: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT_S)
        sock.sendto(b"\x12\x34" + b"\x01\x00\x00\x01" + b"\xff" * 10, nameserver)
        reply = sock.recv(512)
    assert reply[:2] == b"\x12\x34"
    assert reply[3] & 0x0F == dns.rcode.FORMERR


def test_udp_and_tcp_only_on_loopback(deployment: Deployment, nameserver: tuple[str, int]) -> None:
    port = nameserver[1]
    found: dict[str, set[str]] = {}
    for table in ("udp", "udp6", "tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local = line.split()[1]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port:
                found.setdefault(table.rstrip("6"), set()).add(address)
    assert found == {"udp": {"0100007F"}, "tcp": {"0100007F"}}


# -- faults ----------------------------------------------------------------------------------------


@pytest.fixture
def zone_restored(deployment: Deployment) -> Iterator[None]:
    """Whatever the test does, dns.json must be back byte for byte once the faults are healed."""
    path = deployment.state_dir / "dns.json"
    before = path.read_text()
    yield
    assert path.read_text() == before


def assert_healthy(nameserver: tuple[str, int]) -> None:
    for host in HOSTS:
        assert all(in_cloudflare(a) for a in addresses(nameserver, host, "A"))
        assert all(in_cloudflare(a) for a in addresses(nameserver, host, "AAAA"))


def test_dns_unproxied(deployment: Deployment, nameserver: tuple[str, int], zone_restored: None) -> None:
    with deployment.injected("dns-unproxied"):
        for tcp in (False, True):
            v4 = addresses(nameserver, "chat.phenom.test", "A", tcp=tcp)
            assert v4 == {"203.0.113.10"}
            assert not in_cloudflare("203.0.113.10")
            with pytest.raises(dns.resolver.NoAnswer):
                resolver(nameserver).resolve("chat.phenom.test", "AAAA", tcp=tcp)
        # Only the chat host changed.
        assert all(in_cloudflare(a) for a in addresses(nameserver, "phenom.test", "A"))
    assert_healthy(nameserver)


def test_dns_missing(deployment: Deployment, nameserver: tuple[str, int], zone_restored: None) -> None:
    with deployment.injected("dns-missing"):
        for tcp in (False, True):
            response = ask(nameserver, "chat.phenom.test", "A", tcp=tcp)
            assert response.rcode() == dns.rcode.NXDOMAIN
            assert response.authority[0].rdtype == dns.rdatatype.SOA
        assert all(in_cloudflare(a) for a in addresses(nameserver, "phenom.test", "A"))
    assert_healthy(nameserver)


@pytest.mark.parametrize(
    ("fault", "v4"),
    [("dns-server-name-missing", set()), ("dns-server-name-unproxied", {"203.0.113.10"})],
)
def test_server_name_faults_change_the_apex_address_records_only(
    deployment: Deployment, nameserver: tuple[str, int], zone_restored: None, fault: str, v4: set[str]
) -> None:
    with deployment.injected(fault):
        for tcp in (False, True):
            response = ask(nameserver, "phenom.test", "A", tcp=tcp)
            assert response.rcode() == dns.rcode.NOERROR  # the apex exists: NODATA or the new address
            assert {rdata.to_text() for rrset in response.answer for rdata in rrset} == v4
            assert ask(nameserver, "phenom.test", "AAAA", tcp=tcp).answer == []
        # The zone is still a zone (its SOA and NS stay), and the other names are untouched.
        assert addresses(nameserver, "phenom.test", "NS") and addresses(nameserver, "phenom.test", "SOA")
        assert all(in_cloudflare(a) for a in addresses(nameserver, "chat.phenom.test", "A"))
    assert_healthy(nameserver)


def test_the_srv_overlay_names_the_federation_host(
    deployment: Deployment, nameserver: tuple[str, int], zone_restored: None
) -> None:
    # What tests/suite/proofs.py's discovered_by_srv serves: the server name's _matrix-fed._tcp record.
    srv = "_matrix-fed._tcp.phenom.test"
    assert ask(nameserver, srv, "SRV").rcode() == dns.rcode.NXDOMAIN
    layout = Layout(deployment.state_dir)
    _dns.set_overlay(layout, "srv-test", _dns.srv_records())
    try:
        assert addresses(nameserver, srv, "SRV") == {"10 5 8443 fed.phenom.test."}
        _dns.set_overlay(layout, "srv-test-dot", _dns.srv_records(target="."))
        assert addresses(nameserver, srv, "SRV") == {"0 0 0 ."}
    finally:
        _dns.clear_overlay(layout, "srv-test-dot")
        _dns.clear_overlay(layout, "srv-test")
    assert ask(nameserver, srv, "SRV").rcode() == dns.rcode.NXDOMAIN


def test_dns_faults_heal_in_any_order(deployment: Deployment, nameserver: tuple[str, int], zone_restored: None) -> None:
    try:
        deployment.fault("dns-unproxied")
        deployment.fault("dns-missing")
        assert ask(nameserver, "chat.phenom.test", "A").rcode() == dns.rcode.NXDOMAIN
        deployment.heal("dns-unproxied")
        assert ask(nameserver, "chat.phenom.test", "A").rcode() == dns.rcode.NXDOMAIN
        deployment.fault("dns-unproxied")
        deployment.heal("dns-missing")
        assert addresses(nameserver, "chat.phenom.test", "A") == {"203.0.113.10"}
    finally:
        deployment.heal()
    assert_healthy(nameserver)


def test_invalid_zone_file_keeps_the_last_good_zone(deployment: Deployment, nameserver: tuple[str, int]) -> None:
    path = deployment.state_dir / "dns.json"
    original = path.read_text()
    try:
        path.write_text(original.replace('"SOA"', '"SOA-NOT"'))
        assert_healthy(nameserver)
        path.write_text("{not json")
        assert_healthy(nameserver)
    finally:
        path.write_text(original)
    assert_healthy(nameserver)


def test_dns_faults_name_their_failure_mode() -> None:
    names = ("dns-unproxied", "dns-missing", "dns-server-name-unproxied", "dns-server-name-missing")
    assert {FAULTS[name] for name in names} == {"dns-misconfigured"}
