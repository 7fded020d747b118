"""Answering one query from the zone, as an authoritative-only server does (no recursion)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone


def answer(zone: dns.zone.Zone, query: dns.message.Message) -> dns.message.Message:
    # make_response keeps the id, the question (in the client's letter case), RD and EDNS.
    response = dns.message.make_response(query)
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    origin = zone.origin
    assert origin is not None  # a zone built by build_zone always has one
    # Not ours: an authoritative-only server refuses rather than recursing or pointing upwards.
    if question.rdclass not in (dns.rdataclass.IN, dns.rdataclass.ANY) or not question.name.is_subdomain(origin):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    response.flags |= dns.flags.AA
    qname, qtype = question.name, question.rdtype
    node = zone.get_node(qname)
    if node is None:
        # An empty non-terminal (a name with only names below it) exists: NODATA, not NXDOMAIN.
        exists = any(name.is_subdomain(qname) for name in zone.nodes)
        if not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        _add_soa(zone, response)
        return response
    if qtype == dns.rdatatype.ANY:
        # RFC 8482 allows a minimal answer; with a handful of records the whole node is as cheap.
        found = list(node.rdatasets)
    else:
        rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
        found = [rdataset] if rdataset is not None else []
    for rdataset in found:
        response.answer.append(_rrset(qname, rdataset))
    if not found:
        _add_soa(zone, response)
    return response


def _rrset(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))


def _add_soa(zone: dns.zone.Zone, response: dns.message.Message) -> None:
    # Negative answers carry the SOA so resolvers can cache them: for min(TTL, SOA minimum),
    # RFC 2308 §3.
    origin = zone.origin
    assert origin is not None
    soa = zone.get_rdataset(origin, dns.rdatatype.SOA)
    if soa is None:
        return
    rrset = _rrset(origin, soa)
    rrset.ttl = min(soa.ttl, min(rdata.minimum for rdata in soa))
    response.authority.append(rrset)
