"""A small authoritative DNS server on loopback (UDP) for hostile-server tests: every A question is
answered with the given addresses (Cloudflare's by default, never connected to: the target maps
connections with `network.connect_to`), AAAA has no data, and a `behaviour` makes it hostile.
`records` answers given (name, type) questions first (SRV and CNAME for discovery tests)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

Behaviour = Literal["answer", "silent", "truncate", "servfail"]
CLOUDFLARE_ADDRESS = "104.16.0.1"


class DnsResponder:
    def __init__(
        self,
        addresses: tuple[str, ...] = (CLOUDFLARE_ADDRESS,),
        behaviour: Behaviour = "answer",
        records: Mapping[tuple[str, str], list[str]] | None = None,
    ) -> None:
        self.addresses = addresses
        self.behaviour = behaviour
        # (name without its final dot, lower case; type) -> rdata in master-file syntax
        self.records = dict(records or {})
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self.port = int(self._socket.getsockname()[1])

    def __enter__(self) -> DnsResponder:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, client = self._socket.recvfrom(4096)
            except OSError:
                continue
            if self.behaviour == "silent":
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            question = query.question[0]
            if self.behaviour == "servfail":
                response.set_rcode(dns.rcode.SERVFAIL)
            elif self.behaviour == "truncate":
                response.flags |= dns.flags.TC
            elif (found := self._record(question.name, question.rdtype)) is not None:
                rdtype = dns.rdatatype.to_text(question.rdtype)
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, found))
            elif question.rdtype == dns.rdatatype.A:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "A", list(self.addresses)))
            elif question.rdtype not in (dns.rdatatype.AAAA, dns.rdatatype.SRV, dns.rdatatype.CNAME):
                response.set_rcode(dns.rcode.NXDOMAIN)
            with contextlib.suppress(OSError, dns.exception.TooBig):
                # Loopback carries a datagram of up to 64 KiB: thousands of records fit in one answer.
                self._socket.sendto(response.to_wire(max_size=65_000), client)

    def _record(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> list[str] | None:
        key = (name.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(rdtype))
        return self.records.get(key)
