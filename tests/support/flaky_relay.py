"""A TCP relay on loopback whose first connections get an HTTP 500 instead of the upstream's answer:
Synapse's metrics exporter failing a scrape now and then (its thread races the reactor), in front of
the real listener."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.support.loopback import read_request_head
from tests.support.slow_proxy import SlowProxy

# What prometheus_client's WSGI server (wsgiref) answers when collecting raises.
EXPORTER_ERROR = b"A server error occurred.  Please contact the administrator."


class FlakyRelay(SlowProxy):
    """Relays 127.0.0.1:<port> to 127.0.0.1:<upstream> at once, but answers the first `failures`
    connections 500 and closes them. `connections` counts every connection accepted."""

    def __init__(self, upstream_port: int, failures: int) -> None:
        super().__init__(upstream_port, delay_s=0.0)
        self._failures = failures
        self._count = threading.Lock()
        self.connections = 0

    def _handle(self, client: socket.socket) -> None:
        with self._count:
            self.connections += 1
            failing = self.connections <= self._failures
        if not failing:
            super()._handle(client)
            return
        with contextlib.suppress(OSError):
            client.settimeout(5)
            if read_request_head(client) is not None:
                head = (
                    "HTTP/1.0 500 Internal Server Error\r\ncontent-type: text/plain\r\n"
                    f"content-length: {len(EXPORTER_ERROR)}\r\n\r\n"
                )
                client.sendall(head.encode() + EXPORTER_ERROR)
            client.close()
