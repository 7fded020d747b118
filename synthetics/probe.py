"""HTTP probing: one request per URL serves every check that needs it, each with a deadline.

`connect_to` is applied where the TCP connection is made, so the URL, SNI and the HTTP/2
`:authority` still name the real host (as `curl --connect-to` does).
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from synthetics.exchange import Exchange, Followed, ProbeError
from synthetics.target import Target

__all__ = [
    "MAX_BODY_BYTES",
    "ConnectionBlocked",
    "Prober",
    "connect_address",
    "http_client",
]

MAX_BODY_BYTES = 1 << 20
USER_AGENT = "synapse-synthetics/0.1 (+https://github.com/matrix-org/synapse)"


class ConnectionBlocked(ConnectionError):
    """The target allows connections only where `network.connect_to` maps them."""


def connect_address(target: Target, host: str, port: int, pinned: str | None = None) -> tuple[str, int]:
    """Where a connection to host:port really goes: the `connect_to` mapping, whatever else is asked;
    else the `pinned` address (a per-address probe), else host:port itself."""
    mapped = target.network.connect_to.get((host.lower(), port))
    if mapped is not None:
        return mapped
    if target.network.connect_to_only:
        raise ConnectionBlocked(f"{host}:{port} is not in network.connect_to, and the target allows nothing else")
    return (pinned or host), port


MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


class _ConnectToBackend(httpcore.NetworkBackend):
    """Connects to the mapped address; everything above TCP still sees the requested host."""

    def __init__(self, target: Target, pinned: str | None) -> None:
        self._target = target
        self._pinned = pinned
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            host, port = connect_address(self._target, host, port, self._pinned)
        except ConnectionBlocked as blocked:
            raise httpcore.ConnectError(f"blocked: {blocked}") from None
        return self._backend.connect_tcp(host, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return self._backend.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    def __init__(self, ssl_context: ssl.SSLContext, target: Target, http2: bool, pinned: str | None) -> None:
        super().__init__(verify=ssl_context, http2=http2, trust_env=False)
        # httpx has no public hook for the network backend; the pool it builds is replaced whole.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            http1=True,
            http2=http2,
            max_connections=20,
            max_keepalive_connections=10,
            network_backend=_ConnectToBackend(target, pinned),
        )


def http_client(target: Target, *, http2: bool = True, pinned: str | None = None) -> httpx.Client:
    """An httpx client for the target: its trust store, its deadline, its `connect_to`.

    `pinned` sends every connection to that IP address (unless `connect_to` maps the host), for
    probing each address a name resolves to.
    """
    context = ssl.create_default_context(cafile=target.tls.ca_bundle)
    return httpx.Client(
        transport=_Transport(context, target, http2, pinned),
        timeout=httpx.Timeout(target.network.timeout_s),
        headers={"user-agent": USER_AGENT},
        follow_redirects=False,
        trust_env=False,
    )


class Prober:
    """Makes and remembers HTTP exchanges for one run. Thread-safe, so probes can run concurrently."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._timeout = target.network.timeout_s
        self._clients: dict[str | None, httpx.Client] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._exchanges: dict[tuple[Any, ...], Exchange] = {}
        self._dead_origins: dict[tuple[str, int, str | None], ProbeError] = {}

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        assert self._target.homeserver is not None
        return self._target.homeserver.base_url + path_or_url

    def get(self, path_or_url: str, *, headers: Mapping[str, str] | None = None, pinned: str | None = None) -> Exchange:
        """The exchange for this URL, made once per run whoever asks first."""
        url = self.url(path_or_url)
        key = ("GET", url, tuple(sorted((headers or {}).items())), pinned)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._exchanges:
                self._exchanges[key] = self.fetch(url, headers=headers, pinned=pinned)
            return self._exchanges[key]

    def fetch(
        self,
        path_or_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        pinned: str | None = None,
        method: str = "GET",
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Exchange:
        """A new exchange, never shared: repeated samples, and requests that change something."""
        url = self.url(path_or_url)
        parts = urlsplit(url)
        origin = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), pinned)
        with self._lock:
            dead = self._dead_origins.get(origin)
        if dead is not None:
            # One timeout per dead host, not one per check.
            return Exchange(method=method, url=url, error=dead, reused_failure=True)
        exchange = self._exchange(method, url, headers or {}, pinned, json_body, content)
        if exchange.error is not None and exchange.error.kind == "protocol":
            # A pooled connection the server closed as the request went out (an HTTP/2 GOAWAY race,
            # an idle keep-alive expiring): no answer came, so clients retry once on a new one.
            exchange = self._exchange(method, url, headers or {}, pinned, json_body, content)
        if exchange.error is not None and exchange.error.kind in _DEAD_HOST_KINDS:
            with self._lock:
                self._dead_origins[origin] = exchange.error
        return exchange

    def follow(self, url: str) -> Followed:
        """GET with redirects followed and loops caught, as homeservers fetch .well-known files."""
        seen = [url]
        exchanges = []
        while True:
            exchange = self.get(url)
            exchanges.append(exchange)
            location = exchange.header("location")
            if exchange.status not in _REDIRECTS or not location:
                return Followed(tuple(exchanges), None)
            url = str(httpx.URL(exchange.url).join(location))
            if url in seen:
                return Followed(tuple(exchanges), f"redirect loop: {' -> '.join([*seen, url])}")
            if len(seen) > MAX_REDIRECTS:
                return Followed(tuple(exchanges), f"more than {MAX_REDIRECTS} redirects")
            seen.append(url)

    def _client(self, pinned: str | None) -> httpx.Client:
        with self._lock:
            if pinned not in self._clients:
                self._clients[pinned] = http_client(self._target, pinned=pinned)
            return self._clients[pinned]

    def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        pinned: str | None,
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Exchange:
        started = time.monotonic()
        deadline = started + self._timeout * 2
        marks: dict[str, float] = {}

        def trace(event: str, _info: Mapping[str, Any]) -> None:
            marks[event.split(".", 1)[-1] if event.startswith(("http11.", "http2.")) else event] = time.monotonic()

        try:
            with self._client(pinned).stream(
                method, url, headers=dict(headers), json=json_body, content=content, extensions={"trace": trace}
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise _Abort(ProbeError("too-large", f"body larger than {MAX_BODY_BYTES} bytes"))
                    if time.monotonic() > deadline:
                        raise _Abort(ProbeError("timeout", f"body still arriving after {deadline - started:.1f} s"))
                finished = time.monotonic()
                return Exchange(
                    method=method,
                    url=url,
                    status=response.status_code,
                    http_version=response.http_version,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=bytes(body),
                    elapsed_s=finished - started,
                    phases_ms=_phases(marks, started, finished),
                )
        except _Abort as abort:
            return Exchange(method=method, url=url, error=abort.error, elapsed_s=time.monotonic() - started)
        except httpx.HTTPError as error:
            probe_error = classify_transport_error(error, self._timeout)
            return Exchange(method=method, url=url, error=probe_error, elapsed_s=time.monotonic() - started)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


# Failures that say the host cannot be reached at all: later probes of it fail at once the same way.
_DEAD_HOST_KINDS = frozenset({"dns", "refused", "connect-timeout", "tls", "blocked"})


def _phases(marks: Mapping[str, float], started: float, finished: float) -> dict[str, float]:
    def span(start: str, end: str) -> float | None:
        if start in marks and end in marks:
            return round((marks[end] - marks[start]) * 1000, 1)
        return None

    phases = {
        "connect": span("connection.connect_tcp.started", "connection.connect_tcp.complete"),
        "tls": span("connection.start_tls.started", "connection.start_tls.complete"),
        "processing": span("send_request_headers.started", "receive_response_headers.complete"),
    }
    if "receive_response_headers.complete" in marks:
        phases["transfer"] = round((finished - marks["receive_response_headers.complete"]) * 1000, 1)
    phases["total"] = round((finished - started) * 1000, 1)
    return {name: value for name, value in phases.items() if value is not None}


class _Abort(Exception):
    def __init__(self, error: ProbeError) -> None:
        super().__init__(str(error))
        self.error = error


def classify_transport_error(error: httpx.HTTPError, timeout_s: float) -> ProbeError:
    causes = _causes(error)
    if str(error).startswith("blocked: "):
        return ProbeError("blocked", str(error).removeprefix("blocked: "))
    if isinstance(error, httpx.ConnectTimeout):
        return ProbeError("connect-timeout", f"no connection within {timeout_s:g} s")
    if isinstance(error, httpx.TimeoutException):
        return ProbeError("timeout", f"no answer within {timeout_s:g} s ({type(error).__name__})")
    for cause in causes:
        if isinstance(cause, OSError) and cause.errno == errno.ENETUNREACH:
            return ProbeError("no-route", f"the runner has no route to the network ({cause.strerror or cause})")
        if isinstance(cause, socket.gaierror):
            return ProbeError("dns", f"name resolution failed ({cause.strerror or cause})")
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ProbeError("tls", f"certificate verification failed: {cause.verify_message or cause}")
        if isinstance(cause, ssl.SSLError):
            return ProbeError("tls", f"TLS handshake failed: {cause.reason or cause}")
        if isinstance(cause, ConnectionRefusedError):
            return ProbeError("refused", "connection refused")
    text = str(error) or type(error).__name__
    if "refused" in text.lower():
        return ProbeError("refused", "connection refused")
    if "certificate" in text.lower() or "ssl" in text.lower():
        return ProbeError("tls", text)
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return ProbeError("dns", f"name resolution failed ({text})")
    if isinstance(error, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return ProbeError("protocol", text)
    return ProbeError("network", text)


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
