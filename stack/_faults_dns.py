"""Faults of the dns layer: overlays on the zone, which the running DNS server serves at once.

Healing drops the fault's overlay, so the healthy zone (never rewritten) is what is served again,
whatever other faults are active.
"""

from __future__ import annotations

from stack import _dns
from stack._fault_types import Controls, Fault

Overlay = dict[str, dict[str, list[str]] | None]


def _zone_fault(name: str, summary: str, overlay: Overlay) -> Fault:
    def inject(controls: Controls) -> None:
        _dns.set_overlay(controls.layout, name, overlay)

    def heal(controls: Controls) -> None:
        _dns.clear_overlay(controls.layout, name)

    return Fault(name=name, failure_mode="dns-misconfigured", summary=summary, inject=inject, heal=heal)


FAULTS: tuple[Fault, ...] = (
    _zone_fault(
        "dns-unproxied",
        f"the chat host's A record is {_dns.UNPROXIED_A} (outside Cloudflare's ranges, "
        "the proxy switched off) and its AAAA record is gone",
        {_dns.CHAT_OWNER: {"A": [_dns.UNPROXIED_A], "AAAA": []}},
    ),
    _zone_fault(
        "dns-missing",
        "the chat host's records are deleted: its name answers NXDOMAIN",
        {_dns.CHAT_OWNER: None},
    ),
    # The server name is the zone's apex: its SOA and NS stay (the zone must stay a zone), only the
    # address records change, as deleting them in Cloudflare's dashboard would leave it.
    _zone_fault(
        "dns-server-name-unproxied",
        f"the server name's A record is {_dns.UNPROXIED_A} (outside Cloudflare's ranges, the proxy "
        "switched off) and its AAAA record is gone",
        {"@": {"A": [_dns.UNPROXIED_A], "AAAA": []}},
    ),
    _zone_fault(
        "dns-server-name-missing",
        "the server name's A and AAAA records are deleted (its SOA and NS stay): it resolves to no address",
        {"@": {"A": [], "AAAA": []}},
    ),
)
