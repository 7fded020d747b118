"""The edge's ASGI app: route on the Host / :authority, like a Cloudflare zone."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import posixpath
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from stack.edge._asgi import (
    BodyTooLarge,
    ClientGone,
    Headers,
    Receive,
    Reply,
    Scope,
    Send,
    header,
    read_body,
    send_reply,
)
from stack.edge._config import ConfigSource, EdgeConfig
from stack.edge._faults import (
    METRICS_PATH,
    Switches,
    corrupt_signatures,
    fake_event_id,
    is_key_path,
    is_metrics_path,
    is_send,
    signed_by_twin_key,
    switches,
)
from stack.edge._pages import challenge_page, error_page, new_ray_id
from stack.edge._proxy import failure_status, forward
from stack.edge._request_log import RequestLog

log = logging.getLogger(__name__)

# Cloudflare's upload limit on its free plan.
MAX_BODY = 100 * 1024 * 1024
# What the edge buffers to rewrite an origin response (a key document is a few hundred bytes).
MAX_REWRITTEN_BODY = 1024 * 1024

_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"X-Requested-With, Content-Type, Authorization"),
]
_WELLKNOWN = {
    "/.well-known/matrix/server": "wellknown_server",
    "/.well-known/matrix/client": "wellknown_client",
}


class EdgeApp:
    def __init__(self, source: ConfigSource, client: httpx.AsyncClient, requests: RequestLog | None = None) -> None:
        self._source = source
        self._client = client
        self._requests = requests
        # Requests that met a blip, per setting of its switch (the edge runs one event loop: no lock).
        self._blipped: dict[tuple[str, str], int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: Matrix clients do not use them through this edge
        config = self._source.current()
        ray_id = new_ray_id(config.colo)
        try:
            reply = await self._route(config, scope, receive, ray_id)
        except Exception:
            # A bug here must still look like the edge (not a bare hypercorn 500) and be logged.
            log.exception("edge: request failed")
            reply = _error(502, scope, _host(scope), ray_id)
        # Every answer, the origin's included, carries the edge's identity (unless the edge is bypassed).
        identity = [(b"server", b"cloudflare"), (b"cf-ray", ray_id.encode())]
        if switches(config.faults).no_edge_identity:
            identity = [(b"server", b"nginx")]
        reply.headers = [(k, v) for k, v in reply.headers if k.lower() not in {b"server", b"cf-ray"}] + identity
        if self._requests is not None:
            self._requests.record(scope, _host(scope), reply.status)
        await send_reply(send, reply, head_only=scope["method"] == "HEAD")

    async def _route(self, config: EdgeConfig, scope: Scope, receive: Receive, ray_id: str) -> Reply:
        host = _host(scope)
        path = _normalised(scope["path"])
        active = switches(config.faults)
        in_zone = host in (config.origin_host, config.apex_host)
        # On the federation listener the server name's host is proxied too (the SRV target's port).
        federation = config.federation_port is not None and _listener(scope) == config.federation_port
        # A WAF rule covers the whole zone; Cloudflare's own /cdn-cgi/ endpoints are exempt.
        if in_zone and not path.startswith("/cdn-cgi/") and active.challenges(header(scope, b"user-agent")):
            return _challenge(host, ray_id)
        if path == "/cdn-cgi/trace" and in_zone:
            return _trace(config, scope, host)
        if host == config.origin_host or (federation and host == config.apex_host):
            if self._blips(active, path):
                return _error(502, scope, host, ray_id)
            return await self._proxy(config, active, scope, receive, ray_id, host, path)
        if host == config.apex_host:
            return _apex(config, active, scope["method"], path)
        status = 403 if _is_ip(host) else 409
        return _error(status, scope, host, ray_id)

    def _blips(self, active: Switches, path: str) -> bool:
        """Whether this request is one of the first the blip fails (and counts it)."""
        blip = active.blip
        if blip is None or path != blip.path:
            return False
        key = (blip.since, blip.path)
        seen = self._blipped.get(key, 0)
        if seen >= blip.failures:
            return False
        self._blipped[key] = seen + 1
        return True

    async def _proxy(
        self, config: EdgeConfig, active: Switches, scope: Scope, receive: Receive, ray_id: str, host: str, path: str
    ) -> Reply:
        # A route to the metrics listener, left open: /_synapse/metrics goes there, not to the client listener.
        origin_url = active.metrics_origin if active.metrics_origin and is_metrics_path(path) else config.origin_url
        exposed = active.exposed_prefixes | ({METRICS_PATH} if origin_url != config.origin_url else set())
        blocked = [p for p in config.blocked_prefixes if p not in exposed]
        if any(path == p or path.startswith(p + "/") for p in blocked):
            return _plain(404, b"404 Not Found\n")
        try:
            body = await read_body(receive, limit=MAX_BODY)
        except BodyTooLarge:
            return _plain(413, b"413 Request Entity Too Large\n")
        except ClientGone:
            return _plain(499, b"")
        if active.swallow_sends and is_send(scope["method"], path):
            # Answered here and dropped, so Synapse never sees the event: sent, never delivered.
            return _json(200, {"event_id": fake_event_id(header(scope, b"authorization"), path)})
        if active.origin_delay_s > 0:
            # A slow origin: slower than the edge waits for is Cloudflare's 524.
            if active.origin_delay_s >= config.timeouts.read_s:
                await asyncio.sleep(config.timeouts.read_s)
                return _error(524, scope, host, ray_id)
            await asyncio.sleep(active.origin_delay_s)
        rewrites: list[Callable[[bytes], bytes]] = []
        if is_key_path(path) and scope["method"] == "GET":
            if _listener(scope) in active.twin_key_ports:
                rewrites.append(signed_by_twin_key)
            if active.corrupt_key_signatures:
                rewrites.append(corrupt_signatures)
        if rewrites:
            # Uncompressed from the origin, so the document can be rewritten.
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        try:
            reply = await forward(self._client, config, scope, body, ray_id, origin_url=origin_url)
            for rewrite in rewrites:
                reply = await _rewritten(reply, rewrite)
        except httpx.TransportError as err:
            status = failure_status(err)
            log.warning("edge: origin failed (%s: %s) -> %d", type(err).__name__, err, status)
            return _error(status, scope, host, ray_id)
        except BodyTooLarge:
            log.warning("edge: origin response too large to rewrite")
            return _error(502, scope, host, ray_id)
        reply.headers.append((b"cf-cache-status", b"DYNAMIC"))
        return reply


async def _rewritten(reply: Reply, rewrite: Callable[[bytes], bytes]) -> Reply:
    """The origin's reply read whole, its body passed through `rewrite`."""
    chunks: list[bytes] = []
    size = 0
    try:
        if reply.stream is not None:
            async for chunk in reply.stream:
                size += len(chunk)
                if size > MAX_REWRITTEN_BODY:
                    raise BodyTooLarge
                chunks.append(chunk)
    finally:
        if reply.close is not None:
            await reply.close()
    body = rewrite(b"".join(chunks) if reply.stream is not None else reply.body)
    headers = [(k, v) for k, v in reply.headers if k.lower() not in {b"content-length", b"content-encoding"}]
    headers.append((b"content-length", str(len(body)).encode()))
    return Reply(status=reply.status, headers=headers, body=body)


def _apex(config: EdgeConfig, active: Switches, method: str, path: str) -> Reply:
    attribute = _WELLKNOWN.get(path)
    if attribute is None or (attribute == "wellknown_server" and active.wellknown_server_missing):
        return _plain(404, b"404 Not Found\n")
    if method == "OPTIONS":
        return Reply(status=204, headers=list(_CORS))
    if method not in ("GET", "HEAD"):
        return _plain(405, b"405 Method Not Allowed\n", [(b"allow", b"GET, HEAD, OPTIONS")])
    document: Mapping[str, Any] = getattr(config, attribute)
    if attribute == "wellknown_server" and active.wellknown_server is not None:
        document = active.wellknown_server
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return Reply(status=200, headers=headers + _CORS, body=body)


def _trace(config: EdgeConfig, scope: Scope, host: str) -> Reply:
    """Cloudflare's /cdn-cgi/trace: handy to see which HTTP version was negotiated."""
    client_ip = scope["client"][0] if scope.get("client") else ""
    lines = [
        "fl=1f1",
        f"h={host}",
        f"ip={client_ip}",
        f"ts={time.time():.3f}",
        "visit_scheme=https",
        f"uag={header(scope, b'user-agent') or ''}",
        f"colo={config.colo}",
        f"http=http/{scope.get('http_version', '1.1')}",
        "loc=XX",
    ]
    return _plain(200, ("\n".join(lines) + "\n").encode())


def _error(status: int, scope: Scope, host: str, ray_id: str) -> Reply:
    client_ip = scope["client"][0] if scope.get("client") else ""
    body = error_page(status, host=host, ray_id=ray_id, client_ip=client_ip)
    headers: Headers = [
        (b"content-type", b"text/html; charset=UTF-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"private, max-age=0, no-store, no-cache, must-revalidate"),
    ]
    return Reply(status=status, headers=headers, body=body)


def _challenge(host: str, ray_id: str) -> Reply:
    body = challenge_page(host=host, ray_id=ray_id)
    headers: Headers = [
        (b"content-type", b"text/html; charset=UTF-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cf-mitigated", b"challenge"),
        (b"cache-control", b"private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0"),
        (b"expires", b"Thu, 01 Jan 1970 00:00:01 GMT"),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"referrer-policy", b"same-origin"),
    ]
    return Reply(status=403, headers=headers, body=body)


def _json(status: int, document: Mapping[str, Any]) -> Reply:
    body = json.dumps(document).encode()
    headers: Headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return Reply(status=status, headers=headers, body=body)


def _plain(status: int, body: bytes, extra: Headers | None = None) -> Reply:
    headers: Headers = [
        (b"content-type", b"text/plain; charset=UTF-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    return Reply(status=status, headers=headers + (extra or []), body=body)


def _host(scope: Scope) -> str:
    # Hypercorn puts HTTP/2's :authority into `host`, so one lookup serves both versions.
    raw = (header(scope, b"host") or "").strip().lower()
    if raw.startswith("["):
        return raw[: raw.find("]") + 1]
    return raw.rsplit(":", 1)[0] if ":" in raw else raw


def _listener(scope: Scope) -> int | None:
    """The edge's port the request came in on (it listens on several)."""
    server = scope.get("server")
    return int(server[1]) if server else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == ""
    return True


def _normalised(path: str) -> str:
    # Compare the decoded, dot-segment-free path, so /_matrix/../_synapse/admin or
    # //_synapse/admin cannot slip past the blocked prefixes.
    cleaned = posixpath.normpath("/" + path.lstrip("/"))
    return cleaned + "/" if path.endswith("/") and cleaned != "/" else cleaned


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
