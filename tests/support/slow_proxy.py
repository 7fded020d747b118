"""A TCP relay on loopback that delays every answer: a slow endpoint, for real, without faking it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.support.loopback import LoopbackServer


class SlowProxy(LoopbackServer):
    """Relays 127.0.0.1:<port> to 127.0.0.1:<upstream>, holding each chunk of the answer `delay_s`."""

    def __init__(self, upstream_port: int, delay_s: float) -> None:
        super().__init__()
        self._upstream = upstream_port
        self._delay = delay_s

    def _handle(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            self._sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream, 0.0), daemon=True).start()
            self._pump(upstream, client, self._delay)

    def _pump(self, source: socket.socket, sink: socket.socket, delay_s: float) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                chunk = source.recv(65536)
                if not chunk:
                    break
                time.sleep(delay_s)
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
