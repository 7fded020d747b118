"""The UDP and TCP listeners: wire format in, `answer` out, every read bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import struct
import typing
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from stack.dns._config import ZoneSource
from stack.dns._resolve import answer

log = logging.getLogger(__name__)

# Without EDNS a UDP answer must fit 512 bytes (RFC 1035); larger ones are truncated (TC) so the
# client retries over TCP.
CLASSIC_UDP_SIZE = 512
# A TCP client that sends nothing for this long is dropped (RFC 7766 suggests tens of seconds).
TCP_IDLE_S = 10.0
TCP_MAX_QUERIES = 100


def respond(source: ZoneSource, wire: bytes, peer: str, *, transport: str, max_size: int = 65535) -> bytes | None:
    """The answer to one query in wire format, or None when there is nothing to answer."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException as err:
        return _format_error(wire, err)
    if query.flags & dns.flags.QR:
        return None  # a response, not a query: answering it could start a loop
    response = answer(source.current(), query)
    if transport == "udp":
        max_size = max(query.payload, CLASSIC_UDP_SIZE) if query.edns >= 0 else CLASSIC_UDP_SIZE
    question = query.question[0] if query.question else None
    log.info(
        "%s %s %s %s -> %s, %d answers",
        transport,
        peer,
        dns.rdatatype.to_text(question.rdtype) if question else "-",
        question.name if question else "-",
        dns.rcode.to_text(response.rcode()),
        len(response.answer),
    )
    return response.to_wire(max_size=max_size, prefer_truncation=True)


def _format_error(wire: bytes, err: Exception) -> bytes | None:
    if len(wire) < 12 or wire[2] & 0x80:
        return None  # too short to carry an id, or a response (QR set): nothing to answer
    log.info("malformed query (%s): FORMERR", err)
    (query_id,) = struct.unpack("!H", wire[:2])
    reply = dns.message.Message(id=query_id)
    reply.flags = dns.flags.QR
    reply.set_rcode(dns.rcode.FORMERR)
    return reply.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, source: ZoneSource) -> None:
        self._source = source
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport, though asyncio's class for it does not subclass this one.
        self._transport = typing.cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            reply = respond(self._source, data, f"{addr[0]}:{addr[1]}", transport="udp")
        except Exception:
            log.exception("dns: query failed")
            return
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)


async def _tcp_client(source: ZoneSource, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peername = writer.get_extra_info("peername")
    peer = f"{peername[0]}:{peername[1]}" if peername else "?"
    try:
        # Several queries may come on one connection (RFC 7766); each is a 2-byte length and a message.
        for _ in range(TCP_MAX_QUERIES):
            try:
                prefix = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_S)
                (length,) = struct.unpack("!H", prefix)
                wire = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_S)
            except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                return
            reply = respond(source, wire, peer, transport="tcp")
            if reply is None:
                return
            writer.write(struct.pack("!H", len(reply)) + reply)
            await asyncio.wait_for(writer.drain(), TCP_IDLE_S)
    except Exception:
        log.exception("dns: tcp client failed")
    finally:
        writer.close()


async def serve(path: Path) -> None:
    source = ZoneSource(path)
    config = source.config
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    # UDP first: once TCP accepts connections (what a readiness probe may look at), both are bound.
    udp, _ = await loop.create_datagram_endpoint(
        lambda: _Udp(source), local_addr=(config.listen_host, config.listen_port)
    )
    tcp = await asyncio.start_server(
        lambda r, w: _tcp_client(source, r, w), host=config.listen_host, port=config.listen_port
    )
    log.info("dns: serving %s on %s:%d (udp, tcp)", config.origin, config.listen_host, config.listen_port)
    try:
        await stopping.wait()
    finally:
        udp.close()
        tcp.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tcp.wait_closed(), 2.0)
