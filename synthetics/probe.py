"""HTTP probing: one request per URL serves every check that needs it, each within one deadline
(connect, TLS, headers and body together), and a host that failed costs that deadline once."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from synthetics._transport import (
    CONFIRMED_KINDS,
    CONFIRMED_STATUSES,
    ConnectionBlocked,
    DeadHosts,
    KnownDead,
    Route,
    classify_transport_error,
    connect_address,
    first_attempt,
    http_client,
    name_lookups,
    request_deadline,
)
from synthetics.exchange import Exchange, Followed, ProbeError
from synthetics.target import Target

__all__ = [
    "CONFIRM_AFTER_S",
    "MAX_BODY_BYTES",
    "ConnectionBlocked",
    "Prober",
    "Route",
    "connect_address",
    "http_client",
]

MAX_BODY_BYTES = 1 << 20


MAX_REDIRECTS = 5
# A fast failure is tried again once, this long after, on a new connection (see `Prober.fetch`).
CONFIRM_AFTER_S = 0.5
# Requests that change nothing, which a retry cannot do twice; a write is never retried blindly.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REDIRECTS = (301, 302, 303, 307, 308)


class Prober:
    """Makes and remembers HTTP exchanges for one run. Thread-safe, so probes can run concurrently."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._timeout = target.network.timeout_s
        # One client per probe thread (and route): an HTTP/2 connection shared by threads lets one
        # request's deadline tear down every other request on it, and httpcore's HTTP/2 state is
        # not safe to drive from several threads at once.
        self._clients: dict[tuple[int, Route | None], httpx.Client] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._exchanges: dict[tuple[Any, ...], Exchange] = {}
        self._dead = DeadHosts()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        assert self._target.homeserver is not None
        return self._target.homeserver.base_url + path_or_url

    def get(
        self, path_or_url: str, *, headers: Mapping[str, str] | None = None, route: Route | None = None
    ) -> Exchange:
        """The exchange for this URL, made once per run whoever asks first.

        `route` sends the connection elsewhere than the URL's host:port (an SRV target, one
        address of a name), as `curl --connect-to` does: the URL's host stays the TLS name, and
        a `host` header given here is sent as the `Host` (HTTP/2 `:authority`) instead of the URL's.
        """
        url = self.url(path_or_url)
        route = _needed(url, route)
        key = ("GET", url, tuple(sorted((headers or {}).items())), route)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._exchanges:
                self._exchanges[key] = self.fetch(url, headers=headers, route=route)
            return self._exchanges[key]

    def fetch(
        self,
        path_or_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        route: Route | None = None,
        method: str = "GET",
        json_body: Any = None,
        content: bytes | None = None,
        transient_statuses: frozenset[int] = frozenset(),
    ) -> Exchange:
        """A new exchange, never shared: repeated samples, and requests that change something.

        A fast failure of a request that changes nothing (refused, reset, the edge's 502/503/504/52x,
        and any of `transient_statuses`, which the caller knows its server to answer now and then)
        is confirmed before it counts: tried once more on a new connection after CONFIRM_AFTER_S,
        while at least half of the request's deadline is left, within what is left of it. The answer
        keeps the failed attempt (`Exchange.earlier`), so a check that passed on the second attempt
        says so. A timeout is never tried again.
        """
        url = self.url(path_or_url)
        route = _needed(url, route)
        host, port = _origin(url)
        origin = (host, port, route)
        via = route.describe() if route is not None else None
        dead = self._dead.get(origin)
        if dead is not None:
            # One timeout per dead host, not one per check.
            return Exchange(method=method, url=url, error=dead, reused_failure=True, via=via)
        request = (method, url, headers or {}, via, json_body, content)
        confirmable = method in _SAFE_METHODS
        with first_attempt(confirmed_later=confirmable):
            exchange = self._exchange(*request, client=self._client(route), deadline_s=self._timeout)
        if exchange.error is not None and exchange.error.kind == "protocol":
            # A pooled connection the server closed as the request went out (an HTTP/2 GOAWAY race,
            # an idle keep-alive expiring): no answer came, so clients retry once on a new one.
            exchange = self._exchange(*request, client=self._client(route), deadline_s=self._timeout)
        if not (confirmable and _fails_fast(exchange, transient_statuses)):
            return exchange
        if exchange.elapsed_s + CONFIRM_AFTER_S > self._timeout / 2:
            # No time to confirm it: the failure stands, and the host is failed for the run.
            if exchange.error is not None:
                self._dead.record(origin, exchange.error)
            return exchange
        time.sleep(CONFIRM_AFTER_S)
        # A new connection: the first may be the one thing that is broken.
        with http_client(self._target, route=route, dead=self._dead) as fresh:
            again = self._exchange(
                *request, client=fresh, deadline_s=self._timeout - exchange.elapsed_s - CONFIRM_AFTER_S
            )
        return replace(again, earlier=(exchange,))

    def follow(self, url: str) -> Followed:
        """GET with redirects followed and loops caught, as homeservers fetch .well-known files."""
        seen = [url]
        exchanges = []
        insecure: list[str] = []
        while True:
            exchange = self.get(url)
            exchanges.append(exchange)
            location = exchange.header("location")
            if exchange.status not in _REDIRECTS or not location:
                return Followed(tuple(exchanges), None, tuple(insecure))
            try:
                next_url = str(httpx.URL(exchange.url).join(location))
            except httpx.InvalidURL as error:
                return Followed(tuple(exchanges), f"redirect to an invalid URL {location[:200]!r}: {error}")
            if not next_url.startswith(("https://", "http://")):
                return Followed(tuple(exchanges), f"redirect to {next_url[:200]!r}, not an http(s) URL")
            if url.startswith("https://") and next_url.startswith("http://"):
                # Synapse's well-known client (Twisted's redirect agent) follows it; nobody should rely on it.
                insecure.append(f"{url} redirects to plain http: {next_url}")
            url = next_url
            if url in seen:
                return Followed(tuple(exchanges), f"redirect loop: {' -> '.join([*seen, url])}", tuple(insecure))
            if len(seen) > MAX_REDIRECTS:
                return Followed(tuple(exchanges), f"more than {MAX_REDIRECTS} redirects", tuple(insecure))
            seen.append(url)

    def _client(self, route: Route | None) -> httpx.Client:
        key = (threading.get_ident(), route)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = http_client(self._target, route=route, dead=self._dead)
            return self._clients[key]

    def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        via: str | None,
        json_body: Any = None,
        content: bytes | None = None,
        *,
        client: httpx.Client,
        deadline_s: float,
    ) -> Exchange:
        started = time.monotonic()
        marks: dict[str, float] = {}

        def trace(event: str, _info: Mapping[str, Any]) -> None:
            marks[event.split(".", 1)[-1] if event.startswith(("http11.", "http2.")) else event] = time.monotonic()

        try:
            with (
                request_deadline(deadline_s) as deadline,
                name_lookups() as lookups,
                client.stream(
                    method,
                    url,
                    headers=dict(headers),
                    json=json_body,
                    content=content,
                    # The pool's wait for a connection counts against the same deadline.
                    timeout=httpx.Timeout(deadline_s),
                    extensions={"trace": trace},
                ) as response,
            ):
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
                    via=via,
                    status=response.status_code,
                    http_version=response.http_version,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=bytes(body),
                    elapsed_s=finished - started,
                    phases_ms=_phases(marks, started, finished, sum(lookups)),
                )
        except _Abort as abort:
            return Exchange(method=method, url=url, via=via, error=abort.error, elapsed_s=time.monotonic() - started)
        except httpx.HTTPError as error:
            probe_error = classify_transport_error(error, self._timeout)
            reused = any(isinstance(cause, KnownDead) for cause in (error.__cause__, error.__context__))
            return Exchange(
                method=method,
                url=url,
                via=via,
                error=probe_error,
                elapsed_s=time.monotonic() - started,
                reused_failure=reused,
            )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def _origin(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _needed(url: str, route: Route | None) -> Route | None:
    """The route, or None when it goes where the URL does anyway: such a request shares the URL's
    connections and its dead host (one deadline per host, whoever asks)."""
    if route is not None and route.address is None and (route.host.lower(), route.port) == _origin(url):
        return None
    return route


def _fails_fast(exchange: Exchange, transient_statuses: frozenset[int]) -> bool:
    """A failure quick to see and often gone a moment later, which one more attempt confirms."""
    if exchange.reused_failure:
        return False
    if exchange.error is not None:
        return exchange.error.kind in CONFIRMED_KINDS
    return exchange.status in CONFIRMED_STATUSES or exchange.status in transient_statuses


def _phases(marks: Mapping[str, float], started: float, finished: float, resolve_s: float) -> dict[str, float]:
    def span(start: str, end: str, less_s: float = 0.0) -> float | None:
        if start in marks and end in marks:
            return round((marks[end] - marks[start] - less_s) * 1000, 1)
        return None

    connected = "connection.connect_tcp.complete" in marks  # a new connection (not a pooled one)
    phases = {
        # The name lookup runs inside httpcore's connect_tcp: timed there, and taken out of connect.
        "resolve": round(resolve_s * 1000, 1) if connected else None,
        "connect": span("connection.connect_tcp.started", "connection.connect_tcp.complete", resolve_s),
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
