"""Running the zone's authoritative DNS server (`python -m stack.dns`) as a deployment process."""

from __future__ import annotations

import dataclasses
import socket
import sys
from collections.abc import Collection
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode

from stack._errors import StackError
from stack._layout import Layout
from stack._process import ProcRef, is_running, last_line, python_env, spawn, wait_until
from stack._synapse import PUBLIC_HOST, SERVER_NAME
from stack.dns import DnsConfig, load_config, save_config

READY_S = 10.0
PROBE_TIMEOUT_S = 0.5

# The nameservers Cloudflare assigns a zone come in pairs under ns.cloudflare.com.
NAMESERVERS = ("ada.ns.cloudflare.com.", "bob.ns.cloudflare.com.")
# A proxied record answers with Cloudflare anycast addresses (from its published ranges, and never
# contacted: HTTP goes through the target's connect_to). Cloudflare hands a zone one pair per family;
# its IPv6 addresses embed the IPv4 ones in their last 32 bits, as here.
PROXIED_A = ["104.21.32.17", "172.67.150.201"]
PROXIED_AAAA = ["2606:4700:3034::6815:2011", "2606:4700:3037::ac43:96c9"]
# RFC 5737 documentation range: outside Cloudflare's, like an origin's own (unproxied) address.
UNPROXIED_A = "203.0.113.10"


def _relative(host: str) -> str:
    """The owner name of `host` in the zone's records ("@" for the apex)."""
    if host == SERVER_NAME:
        return "@"
    suffix = "." + SERVER_NAME
    if not host.endswith(suffix):
        raise StackError(f"{host} is not in the zone {SERVER_NAME}")
    return host[: -len(suffix)]


CHAT_OWNER = _relative(PUBLIC_HOST)
# The zone's federation host, proxied like the others: what an SRV record of the server name names
# when federation is found through SRV instead of the well-known (the setting `srv_records` serves,
# tests/suite/proofs.py). The target maps its port SRV_PORT to the edge's federation listener and its
# 8448 to a port where nothing listens. The edge's certificate does not name it: an SRV target is
# never the TLS name.
FEDERATION_HOST = f"fed.{SERVER_NAME}"
FEDERATION_OWNER = _relative(FEDERATION_HOST)
SRV_OWNER = "_matrix-fed._tcp"  # the server name's SRV record (spec step 4; `_matrix._tcp` is step 5)
SRV_PORT = 8443  # a port Cloudflare proxies HTTPS on


def srv_records(port: int = SRV_PORT, target: str = FEDERATION_HOST) -> dict[str, dict[str, list[str]] | None]:
    """A zone overlay publishing the server name's SRV record: `target`:`port` ("." for RFC 2782's
    "decidedly not available", with port 0)."""
    rdata = "0 0 0 ." if target == "." else f"10 5 {port} {target}."
    return {SRV_OWNER: {"SRV": [rdata]}}


def healthy_config(port: int) -> DnsConfig:
    proxied = {"A": list(PROXIED_A), "AAAA": list(PROXIED_AAAA)}
    # Cloudflare's SOA: its first assigned nameserver, dns.cloudflare.com, and its timers.
    soa = f"{NAMESERVERS[0]} dns.cloudflare.com. 2345678901 10000 2400 604800 1800"
    return DnsConfig(
        listen_host="127.0.0.1",
        listen_port=port,
        origin=f"{SERVER_NAME}.",
        ttl=300,
        records={
            "@": {"SOA": [soa], "NS": list(NAMESERVERS), **proxied},
            CHAT_OWNER: {key: list(values) for key, values in proxied.items()},
            FEDERATION_OWNER: {key: list(values) for key, values in proxied.items()},
        },
    )


def write_config(layout: Layout, *, port: int) -> None:
    save_config(layout.dns_json, healthy_config(port))


def start(layout: Layout) -> ProcRef:
    argv = [sys.executable, "-m", "stack.dns", str(layout.dns_json)]
    return spawn(argv, log=layout.dns_log, cwd=layout.root, env=python_env())


def answers(port: int) -> bool:
    """True when the server answers an SOA query for the zone over UDP."""
    query = dns.message.make_query(f"{SERVER_NAME}.", "SOA")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=PROBE_TIMEOUT_S)
    except (dns.exception.DNSException, OSError):
        return False
    return response.rcode() == dns.rcode.NOERROR and bool(response.answer)


def wait_ready(layout: Layout, ref: ProcRef, port: int) -> None:
    def ready() -> bool:
        if not is_running(ref):
            raise StackError(f"dns exited during startup: {last_line(layout.dns_log)}")
        return answers(port)

    if not wait_until(ready, timeout_s=READY_S):
        raise StackError(f"dns not answering on 127.0.0.1:{port} within {READY_S:.0f} s")


def free_port(avoid: Collection[int] = ()) -> int:
    """A loopback port free for both UDP and TCP (a DNS server needs the same number on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            if port in avoid:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                    tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise StackError("no loopback port free for both UDP and TCP")


# -- faults: overlays in dns.json, picked up by the running server on its next query ------------


def set_overlay(layout: Layout, name: str, overlay: dict[str, Any]) -> None:
    config = load_config(layout.dns_json)
    save_config(layout.dns_json, dataclasses.replace(config, faults={**config.faults, name: overlay}))


def clear_overlay(layout: Layout, name: str) -> None:
    config = load_config(layout.dns_json)
    if name in config.faults:
        faults = {key: value for key, value in config.faults.items() if key != name}
        save_config(layout.dns_json, dataclasses.replace(config, faults=faults))
