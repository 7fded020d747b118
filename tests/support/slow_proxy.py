"""A TCP relay on loopback that delays every answer: a slow endpoint, for real, without faking it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class SlowProxy:
    """Relays 127.0.0.1:<port> to 127.0.0.1:<upstream>, holding each chunk of the answer `delay_s`."""

    def __init__(self, upstream_port: int, delay_s: float) -> None:
        self._upstream = upstream_port
        self._delay = delay_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self.port = int(self._listener.getsockname()[1])

    def __enter__(self) -> SlowProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, 0.0), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self._delay), daemon=True).start()

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
