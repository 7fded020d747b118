"""`python -m stack.edge <edge.json>`: serve the edge until SIGTERM."""

from __future__ import annotations

import asyncio
import asyncio.constants
import contextlib
import logging
import signal
import socket
import ssl
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.events import Closed, Event
from hypercorn.protocol.h2 import H2Protocol

from stack.edge._app import EdgeApp
from stack.edge._config import ConfigSource, EdgeConfig
from stack.edge._request_log import RequestLog
from stack.edge._sni import install as record_sni
from stack.edge._sni import remember_name

TLS_CLOSE_WAIT_S = 0.5


def _goaway_on_close() -> None:
    """Send HTTP/2 GOAWAY before closing a connection (RFC 9113 §6.8), as Cloudflare does.

    Hypercorn (0.18) closes idle connections without one, on its keep-alive timeout and when it shuts
    down, and httpcore does not watch idle HTTP/2 connections: a pooled connection's next request
    would fail with "Server disconnected". Told by GOAWAY, the client retries on a new connection.
    This reaches into hypercorn's internals; should they change, it does nothing rather than break.
    """
    original = H2Protocol.handle

    async def handle(self: H2Protocol, event: Event) -> None:
        if isinstance(event, Closed):
            # When the client closed first, the GOAWAY goes nowhere, harmlessly.
            with contextlib.suppress(Exception):
                if not self.closed:
                    self.connection.close_connection()
                    await self._flush()
        await original(self, event)

    H2Protocol.handle = handle  # type: ignore[method-assign]


def _prompt_tls_close() -> None:
    """Wait at most a moment for an idle client's TLS close_notify when the edge shuts down.

    An idle pooled client does not read, so it never answers; asyncio would wait 30 s for it, and
    every edge restart (the TLS faults) would hang until `stop` kills the process. asyncio reads
    this default when each connection is made.
    """
    asyncio.constants.SSL_SHUTDOWN_TIMEOUT = TLS_CLOSE_WAIT_S


def _quiet_tls_close(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    error = context.get("exception")
    if isinstance(error, TimeoutError) and "SSL shutdown" in str(error):
        return  # an idle client that never answered close_notify: expected, see _prompt_tls_close
    loop.default_exception_handler(context)


class _EdgeTlsConfig(Config):
    """Hypercorn's TLS context, limited to TLS versions up to `max_tls_version` when one is given.

    Hypercorn insists on TLS 1.2 or newer (RFC 7540 asks it of HTTP/2); an edge that offers only
    older versions is a misconfiguration to reproduce, so this lowers the floor and caps the top.
    Every context also notes the TLS name each client hello carries (`_sni`), for the request log.
    """

    max_tls_version: str | None = None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        context = super().create_ssl_context()
        if context is not None:
            # So the request log can say which TLS name each request's connection asked for.
            context.sni_callback = remember_name
        if context is None or self.max_tls_version is None:
            return context
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1 and TLSv1_1
            newest = ssl.TLSVersion[self.max_tls_version.replace(".", "_")]  # "TLSv1.1" -> TLSv1_1
            if newest < ssl.TLSVersion.TLSv1_2:
                # OpenSSL 3 speaks TLS 1.0 and 1.1 at security level 0 only, with their SHA-1 ciphers.
                context.set_ciphers("DEFAULT:@SECLEVEL=0")
                context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = newest
        return context


def hypercorn_config(config: EdgeConfig) -> Config:
    hc = _EdgeTlsConfig()
    hc.max_tls_version = config.max_tls_version
    ports = [config.listen_port, *config.address_ports]
    if config.federation_port is not None:
        ports.append(config.federation_port)
    hc.bind = [f"{config.listen_host}:{port}" for port in ports]
    hc.certfile = config.certfile
    hc.keyfile = config.keyfile
    hc.alpn_protocols = list(config.alpn)
    # Cloudflare answers `server: cloudflare`; the app sets it, so hypercorn must not add its own.
    hc.include_server_header = False
    hc.accesslog = "-"
    hc.errorlog = "-"
    hc.graceful_timeout = 2.0
    return hc


@contextlib.contextmanager
def closed_ports(host: str, ports: list[int]) -> Iterator[None]:
    """Hold `ports` bound without listening: connections there are refused, and nothing else can take them."""
    with contextlib.ExitStack() as stack:
        for port in ports:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, port))
        yield


async def run(path: Path) -> None:
    source = ConfigSource(path)
    config = source.current()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_tls_close)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    requests = RequestLog(Path(config.request_log)) if config.request_log else None
    try:
        with closed_ports(config.listen_host, config.closed_ports):
            # Per-request timeouts come from edge.json; this default only guards anything that forgets one.
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(10.0), trust_env=False, follow_redirects=False
            ) as client:
                await serve(
                    EdgeApp(source, client, requests),  # type: ignore[arg-type]  # plain ASGI 3 callable
                    hypercorn_config(config),
                    shutdown_trigger=stopping.wait,
                )
    finally:
        if requests is not None:
            requests.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stack.edge EDGE_JSON", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # hypercorn's access log already has one line per request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _goaway_on_close()
    _prompt_tls_close()
    record_sni()
    asyncio.run(run(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
