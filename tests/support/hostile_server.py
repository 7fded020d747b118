"""A hostile HTTPS server on loopback, for the tests that the suite always reaches a verdict: it
trickles, hangs, closes, speaks garbage, or answers with oversized, deeply nested or ill-typed JSON,
loops redirects or downgrades them to plain http. One behaviour per server, for every path."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Literal

import trustme

from tests.support.loopback import LoopbackServer, read_request_head

Behaviour = Literal[
    "slow-headers",
    "slow-body",
    "hang",
    "close",
    "tls-garbage",
    "oversized",
    "nested",
    "type-confusion",
    "status-500",
    "status-999",
    "status-502",
    "blip",
    "redirect-loop",
    "downgrade",
]

# Wrong types at every key the suite reads, whatever the path.
CONFUSED = {
    "versions": "v1.11",
    "m.server": ["chat.hostile.test:443"],
    "m.homeserver": "https://chat.hostile.test",
    "server": 1,
    "server_name": ["hostile.test"],
    "verify_keys": "none",
    "signatures": [1],
    "valid_until_ts": "soon",
    "errcode": {"a": 1},
    "flows": "dummy",
    "rooms": {"room": 1},
    "destinations": 5,
    "current_updates": [1],
    "server_version": None,
}


class HostileServer(LoopbackServer):
    """Serves `behaviour` over TLS (a throwaway CA the target trusts) on 127.0.0.1:port."""

    def __init__(self, behaviour: Behaviour, hosts: tuple[str, ...], directory: Path) -> None:
        super().__init__()
        self.behaviour = behaviour
        ca = trustme.CA()
        self.ca_bundle = directory / "hostile-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*hosts).configure_cert(self._context)
        self._context.set_alpn_protocols(["http/1.1"])
        self.requests = 0  # requests answered, counted for the tests that retries are bounded
        self._count = threading.Lock()

    def _handle(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            if self.behaviour == "hang":
                self._stop.wait()
                return
            if self.behaviour == "close":
                client.close()
                return
            if self.behaviour == "tls-garbage":
                client.sendall(b"\x15\x03\x01\x00\x02\x02\x28" + b"garbage, not a TLS record\r\n" * 8)
                client.close()
                return
            connection = self._context.wrap_socket(client, server_side=True)
            connection.settimeout(10)
            while not self._stop.is_set():
                request = read_request_head(connection)
                if request is None:
                    return
                path = request.split(b" ", 2)[1].decode("latin-1")
                self._answer(connection, path)

    def _answer(self, connection: ssl.SSLSocket, path: str) -> None:
        with self._count:
            self.requests += 1
            first = self.requests == 1
        status, headers, body = 200, {"content-type": "application/json"}, b'{"versions": ["v1.11"]}'
        # A gateway failure as Cloudflare's edge answers it: status-502 always, blip only the first request.
        if self.behaviour == "status-502" or (self.behaviour == "blip" and first):
            status, headers, body = 502, {"content-type": "text/html", "server": "cloudflare"}, b"bad gateway"
        elif self.behaviour == "oversized":
            body = b'{"versions": ["v1.11"], "pad": "' + b"x" * (3 << 20) + b'"}'
        elif self.behaviour == "nested":
            body = b"[" * 25_000 + b"]" * 25_000
        elif self.behaviour == "type-confusion":
            body = json.dumps(CONFUSED).encode()
        elif self.behaviour == "status-500":
            status, body = 500, b'{"errcode": "M_UNKNOWN", "error": "Internal server error"}'
        elif self.behaviour == "status-999":
            status, body = 999, b"?"
        elif self.behaviour == "redirect-loop":
            status, headers, body = 302, {"location": path}, b""
        elif self.behaviour == "downgrade":
            status, headers, body = 302, {"location": f"http://hostile.test{path}"}, b""
        reason = {200: "OK", 302: "Found", 500: "Internal Server Error", 502: "Bad Gateway"}.get(status, "Whatever")
        head = f"HTTP/1.1 {status} {reason}\r\ncontent-length: {len(body)}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        raw = head.encode() + b"\r\n"
        if self.behaviour == "slow-headers":
            for byte in raw:
                connection.sendall(bytes([byte]))
                time.sleep(0.2)
        else:
            connection.sendall(raw)
        if self.behaviour == "slow-body":
            for byte in body:
                connection.sendall(bytes([byte]))
                time.sleep(0.2)
        else:
            connection.sendall(body)
