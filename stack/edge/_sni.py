"""The TLS name (SNI) each client connection asked for, so the request log can say it.

ASGI gives an app the client's and the server's addresses, not the TLS handshake. The edge's TLS
context remembers the name a client hello carried on the connection's SSL object (`sni_callback`),
and hypercorn's TCP server, which holds both that object and the peer's address, files it under the
peer's address for as long as the connection lives; the app looks it up by `scope["client"]`.
This reaches into hypercorn's internals (0.18); should they change, the names are simply unknown.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from hypercorn.asyncio.tcp_server import TCPServer

__all__ = ["UNKNOWN", "install", "remember_name", "sni_of"]

_ATTRIBUTE = "synthetics_edge_sni"
UNKNOWN = "?"  # the connection's name was not seen (not TLS, or hypercorn changed)
# (client address, client port) -> the SNI of that connection ("" when its hello named none)
_BY_PEER: dict[tuple[str, int], str] = {}


def remember_name(ssl_object: Any, server_name: str | None, _context: ssl.SSLContext) -> None:
    """An `sni_callback`: keeps the name on the connection's SSL object (None: the hello named none)."""
    with contextlib.suppress(AttributeError, TypeError):
        setattr(ssl_object, _ATTRIBUTE, server_name or "")


def install() -> None:
    """Wraps hypercorn's `TCPServer.run` so that each connection files its SNI by the peer's address."""
    original = TCPServer.run

    async def run(self: TCPServer) -> None:
        key: tuple[str, int] | None = None
        with contextlib.suppress(Exception):
            peer = self.writer.get_extra_info("peername")
            name = getattr(self.writer.get_extra_info("ssl_object"), _ATTRIBUTE, None)
            if peer and name is not None:
                key = (str(peer[0]), int(peer[1]))
                _BY_PEER[key] = name
        try:
            await original(self)
        finally:
            if key is not None:
                _BY_PEER.pop(key, None)

    TCPServer.run = run  # type: ignore[method-assign]


def sni_of(client: Any) -> str:
    """The SNI of the connection from `client` (an ASGI scope's "client"), "" for none, or UNKNOWN."""
    try:
        return _BY_PEER.get((str(client[0]), int(client[1])), UNKNOWN)
    except (TypeError, IndexError, ValueError):
        return UNKNOWN
