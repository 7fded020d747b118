"""DNS lookups through the target's nameservers, with NXDOMAIN, SERVFAIL and timeout told apart."""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from synthetics.bounds import first_few
from synthetics.target import Target

__all__ = ["CLOUDFLARE_RANGES", "Lookup", "in_cloudflare", "lookup"]

# www.cloudflare.com/ips (IPv4 and IPv6), as published.
CLOUDFLARE_RANGES = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
        "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22", "198.41.128.0/17",
        "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22",
        "2400:cb00::/32", "2606:4700::/32", "2803:f800::/32", "2405:b500::/32", "2405:8100::/32",
        "2a06:98c0::/29", "2c0f:f248::/32",
    )
)  # fmt: skip


def in_cloudflare(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == network.version and ip in network for network in CLOUDFLARE_RANGES)


@dataclass(frozen=True)
class Lookup:
    """One question and its answer. `outcome`: ok | nodata | nxdomain | servfail | refused | timeout |
    no-route (the runner could reach none of the nameservers: its own network is down) | error."""

    name: str
    rdtype: str
    outcome: str
    records: tuple[str, ...] = ()
    detail: str = ""
    cname: str | None = None  # the canonical name, when the name is an alias

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def describe(self) -> str:
        if self.outcome == "ok":
            return f"{self.name} {self.rdtype} -> {first_few(self.records)}"
        meaning = {
            "nodata": "the name exists but has no such record",
            "nxdomain": "NXDOMAIN: the name does not exist",
            "servfail": "SERVFAIL: the nameservers failed to answer",
            "refused": "REFUSED: the nameservers would not answer for this name",
            "timeout": "no answer from the nameservers in time",
            "no-route": "the runner has no route to any nameserver (its own network is down)",
        }.get(self.outcome, "lookup failed")
        return f"{self.name} {self.rdtype}: {meaning}" + (f" ({self.detail})" if self.detail else "")


def _resolver(target: Target, nameservers: tuple[tuple[str, int], ...] | None = None) -> dns.resolver.Resolver:
    servers = target.dns.nameservers if nameservers is None else nameservers
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    resolver.timeout = target.network.timeout_s
    resolver.lifetime = target.network.timeout_s
    resolver.cache = None
    return resolver


def lookup(target: Target, name: str, rdtype: str, *, nameservers: tuple[tuple[str, int], ...] | None = None) -> Lookup:
    """Asks the target's nameservers (or the system's, or the given ones) once, within the target's deadline."""
    try:
        answer = _resolver(target, nameservers).resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(name, rdtype, "nxdomain")
    except dns.resolver.NoNameservers as error:
        text = str(error)
        if _runner_offline(error):
            return Lookup(name, rdtype, "no-route", detail=_first_error(error))
        return Lookup(name, rdtype, "refused" if "REFUSED" in text else "servfail", detail=_first_error(error))
    except dns.exception.Timeout:
        return Lookup(name, rdtype, "timeout", detail=f"{target.network.timeout_s:g} s")
    except dns.exception.DNSException as error:
        return Lookup(name, rdtype, "error", detail=str(error))
    records = tuple(sorted(rdata.to_text() for rdata in answer.rrset)) if answer.rrset is not None else ()
    canonical = answer.canonical_name.to_text(omit_final_dot=True)
    cname = canonical if canonical.rstrip(".") != name.rstrip(".") else None
    return Lookup(name, rdtype, "ok" if records else "nodata", records, cname=cname)


def _runner_offline(error: dns.resolver.NoNameservers) -> bool:
    """Every nameserver failed before a packet left: the runner's network, not the target's DNS."""
    errors = error.kwargs.get("errors") or []
    return bool(errors) and all(
        isinstance(problem, OSError) and problem.errno == errno.ENETUNREACH for _s, _t, _p, problem, *_ in errors
    )


def _first_error(error: dns.resolver.NoNameservers) -> str:
    errors = error.kwargs.get("errors") or []
    if errors:
        server, _tcp, port, problem = errors[0][:4]
        return f"{server}:{port}: {problem}"
    return ""
