"""A TCP listener on 127.0.0.1 that hands each connection to a thread, and closes everything on exit:
what the suite's own test servers (a slow relay, a hostile server) have in common."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self


def read_request_head(connection: socket.socket) -> bytes | None:
    """An HTTP/1.1 request's head (through the blank line), or None when the client hung up first."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        request += chunk
    return request


class LoopbackServer:
    """Subclasses say what to do with a connection (`_handle`, in a thread of its own)."""

    def __init__(self, backlog: int = 64) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self.port = int(self._listener.getsockname()[1])

    def __enter__(self) -> Self:
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
            self._sockets.append(client)
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        raise NotImplementedError
