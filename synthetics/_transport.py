"""What the prober's connections are made of: `connect_to`, one deadline per request however the
server trickles, and one failure per host.

`connect_to` is applied where the TCP connection is made, so the URL, SNI and the HTTP/2
`:authority` still name the real host (as `curl --connect-to` does).

A request may also name its own `Route`: where its TCP connection goes instead of the URL's
host:port (an SRV target and port, one address of a name). It is the same idea one level up, and
`connect_to` still applies to it: the route's host:port is what the map is looked up with, so a
target that maps an SRV target sends the connection where it says. The URL, and so SNI, the
certificate check and (unless the request sets it) the `Host` header, are left as they are.

The deadline is the request's, not the socket's: httpx's timeouts hold for each read, so a server
sending a byte a second is never cut off by them. Every read, write, connect and handshake here
gets only what is left of the deadline of the request that the calling thread is making.

A host that could not be connected to or hand-shaken with is remembered as failed for the run:
requests queued behind that attempt (HTTP/2 requests wait for the one connection being set up)
fail at once with the same finding, instead of each trying again for a deadline of its own.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from synthetics.exchange import ProbeError
from synthetics.servername import canonical_host
from synthetics.target import Target

__all__ = [
    "CONFIRMED_KINDS",
    "CONFIRMED_STATUSES",
    "ConnectionBlocked",
    "DeadHosts",
    "HostKey",
    "KnownDead",
    "Route",
    "classify_transport_error",
    "connect_address",
    "first_attempt",
    "http_client",
    "name_lookups",
    "request_deadline",
]

# Fast failures, which one retry on a new connection confirms or clears (a blip is not an outage):
# a refused or reset connection, and the edge's gateway answers. A timeout is never retried: the
# run has one deadline, and a host that hangs costs it once.
CONFIRMED_KINDS = frozenset({"refused", "reset"})
CONFIRMED_STATUSES = frozenset({502, 503, 504, *range(520, 531)})


@dataclass(frozen=True)
class Route:
    """Where a request's TCP connection goes instead of its URL's host:port (`curl --connect-to`).

    `host`:`port` is where a client would connect (an SRV target and its port); `address` pins one
    IP address of `host` (probing each address a name resolves to). `network.connect_to` maps
    `host`:`port` whatever the address, unless it maps the address itself (`address:port`)."""

    host: str
    port: int
    address: str | None = None

    def describe(self) -> str:
        where = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return where if self.address is None else f"{where} at {self.address}"


HostKey = tuple[str, int, Route | None]  # (host as requested, port, the request's route)
_local = threading.local()


class ConnectionBlocked(ConnectionError):
    """The target allows connections only where `network.connect_to` maps them."""


def connect_address(target: Target, host: str, port: int, route: Route | None = None) -> tuple[str, int]:
    """Where a connection to host:port (the URL's) really goes: to the `route` when there is one;
    the `connect_to` mapping of the route's (else the URL's) host:port wins over anything else, but
    for a route that pins an address which `connect_to` maps itself (address:port): one address of a
    name goes where that address is mapped, as `curl --resolve` pins it."""
    connect_to = target.network.connect_to
    if route is not None:
        host, port = route.host, route.port
        if route.address is not None:
            pinned = connect_to.get((canonical_host(route.address), port))
            if pinned is not None:
                return pinned
    mapped = connect_to.get((canonical_host(host), port))
    if mapped is not None:
        return mapped
    if target.network.connect_to_only:
        raise ConnectionBlocked(f"{host}:{port} is not in network.connect_to, and the target allows nothing else")
    return (route.address if route is not None and route.address else host), port


@contextmanager
def request_deadline(seconds: float) -> Iterator[float]:
    """Every network operation this thread makes inside gets only what is left of `seconds`."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline = time.monotonic() + seconds
    try:
        yield deadline
    finally:
        _local.deadline = previous


@contextmanager
def name_lookups() -> Iterator[list[float]]:
    """The seconds each name lookup of this thread's new connections took while inside (none for
    an address, a `connect_to` mapping or a pooled connection): blackbox_exporter's resolve phase."""
    previous = getattr(_local, "lookups", None)
    found: list[float] = []
    _local.lookups = found
    try:
        yield found
    finally:
        _local.lookups = previous


def _looked_up(seconds: float) -> None:
    found: list[float] | None = getattr(_local, "lookups", None)
    if found is not None:
        found.append(seconds)


@contextmanager
def first_attempt(confirmed_later: bool) -> Iterator[None]:
    """While inside, a fast failure of this thread's connections is not yet a dead host: the
    request will be tried again, and only a failed confirming attempt marks the host failed."""
    previous = getattr(_local, "provisional", False)
    _local.provisional = confirmed_later
    try:
        yield
    finally:
        _local.provisional = previous


def _remember(dead: DeadHosts, key: HostKey, error: ProbeError) -> None:
    if not (getattr(_local, "provisional", False) and error.kind in CONFIRMED_KINDS):
        dead.record(key, error)


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadHosts:
    """The hosts of this run that could not be connected to or hand-shaken with, and why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed: dict[HostKey, ProbeError] = {}

    def get(self, key: HostKey) -> ProbeError | None:
        with self._lock:
            return self._failed.get(key)

    def record(self, key: HostKey, error: ProbeError) -> None:
        with self._lock:
            self._failed.setdefault(key, error)


class KnownDead(httpcore.ConnectError):
    """Raised instead of connecting again to a host that already failed in this run."""

    def __init__(self, error: ProbeError) -> None:
        super().__init__(str(error))
        self.error = error


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, key: HostKey, dead: DeadHosts, timeout_s: float) -> None:
        self._stream, self._key, self._dead, self._timeout_s = stream, key, dead, timeout_s

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        try:
            tls = self._stream.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
            _remember(self._dead, self._key, classify_transport_error(error, self._timeout_s))
            raise
        return _DeadlineStream(tls, self._key, self._dead, self._timeout_s)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _ConnectToBackend(httpcore.NetworkBackend):
    """Connects to the route, or the mapped address; everything above TCP still sees the requested host."""

    def __init__(self, target: Target, route: Route | None, dead: DeadHosts) -> None:
        self._target, self._route, self._dead = target, route, dead
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        key: HostKey = (host.lower(), port, self._route)
        known = self._dead.get(key)
        if known is not None:
            raise KnownDead(known)
        try:
            address, mapped_port = connect_address(self._target, host, port, self._route)
            stream = self._open(address, mapped_port, timeout, local_address, socket_options)
        except ConnectionBlocked as blocked:
            self._dead.record(key, ProbeError("blocked", str(blocked)))
            raise httpcore.ConnectError(f"blocked: {blocked}") from None
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
            _remember(self._dead, key, classify_transport_error(error, self._target.network.timeout_s))
            raise
        return _DeadlineStream(stream, key, self._dead, self._target.network.timeout_s)

    def _open(
        self, host: str, port: int, timeout: float | None, local_address: str | None, socket_options: Any
    ) -> httpcore.NetworkStream:
        """`socket.create_connection`'s own steps, split so that the name lookup is timed apart from
        TCP (blackbox_exporter's resolve and connect): one lookup, then each address in the
        resolver's order until one connects. The same packets as before, in the same order."""
        if _is_address(host):
            return self._backend.connect_tcp(
                host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
            )
        started = time.monotonic()
        try:
            addresses = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as error:  # a gaierror: what httpcore's backend would have raised, mapped alike
            raise httpcore.ConnectError(str(error)) from error
        finally:
            _looked_up(time.monotonic() - started)
        last: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for *_, sockaddr in addresses:
            try:
                return self._backend.connect_tcp(
                    str(sockaddr[0]), port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error  # as create_connection does: the next address, and the last error if none answers
        raise last if last is not None else httpcore.ConnectError(f"{host}: the name has no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return self._backend.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Transport(httpx.HTTPTransport):
    def __init__(
        self, ssl_context: ssl.SSLContext, target: Target, http2: bool, route: Route | None, dead: DeadHosts
    ) -> None:
        super().__init__(verify=ssl_context, http2=http2, trust_env=False)
        # httpx has no public hook for the network backend; the pool it builds is replaced whole.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            http1=True,
            http2=http2,
            max_connections=20,
            max_keepalive_connections=10,
            network_backend=_ConnectToBackend(target, route, dead),
        )


def http_client(
    target: Target, *, http2: bool = True, route: Route | None = None, dead: DeadHosts | None = None
) -> httpx.Client:
    """An httpx client for the target: its trust store, its deadline, its `connect_to`.

    `route` sends every connection of the client there (see `Route`; `connect_to` still maps it);
    clients sharing `dead` share what failed.
    """
    context = ssl.create_default_context(cafile=target.tls.ca_bundle)
    return httpx.Client(
        transport=_Transport(context, target, http2, route, dead or DeadHosts()),
        timeout=httpx.Timeout(target.network.timeout_s),
        headers={"user-agent": USER_AGENT},
        follow_redirects=False,
        trust_env=False,
    )


USER_AGENT = "synapse-synthetics/0.1 (+https://github.com/matrix-org/synapse)"


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify_transport_error(error: BaseException, timeout_s: float) -> ProbeError:
    """Why no HTTP response came back, from an httpx or httpcore error and what caused it."""
    causes = _causes(error)
    for cause in causes:
        if isinstance(cause, KnownDead):
            return cause.error
    if str(error).startswith("blocked: "):
        return ProbeError("blocked", str(error).removeprefix("blocked: "))
    if isinstance(error, httpx.ConnectTimeout | httpcore.ConnectTimeout):
        return ProbeError("connect-timeout", f"no connection within {timeout_s:g} s")
    if isinstance(error, httpx.TimeoutException | httpcore.TimeoutException):
        return ProbeError("timeout", f"no answer within {timeout_s:g} s ({type(error).__name__})")
    for cause in causes:
        if isinstance(cause, OSError) and cause.errno == errno.ENETUNREACH:
            return ProbeError("no-route", f"the runner has no route to the network ({cause.strerror or cause})")
        if isinstance(cause, socket.gaierror):
            return ProbeError("dns", f"name resolution failed ({cause.strerror or cause})")
        if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            # The peer hung up mid-handshake: a closed connection, as fast to see as a reset.
            return ProbeError("reset", "the connection was closed during the TLS handshake")
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ProbeError("tls", f"certificate verification failed: {cause.verify_message or cause}")
        if isinstance(cause, ssl.SSLError):
            return ProbeError("tls", f"TLS handshake failed: {cause.reason or cause}")
        if isinstance(cause, ConnectionRefusedError):
            return ProbeError("refused", "connection refused")
        if isinstance(cause, ConnectionResetError):
            return ProbeError("reset", "connection reset by the peer")
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
