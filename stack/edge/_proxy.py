"""Forwarding a request to the origin (Synapse), and Cloudflare's answers when that fails."""

from __future__ import annotations

import logging

import httpx

from stack.edge._asgi import Headers, Reply, Scope
from stack.edge._config import EdgeConfig

log = logging.getLogger(__name__)

# Meaningful for one connection only (RFC 9110 §7.6.1); HTTP/2 forbids them outright.
_HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
}


def _strip_hop_by_hop(headers: Headers, *also: bytes) -> Headers:
    named = set(also)
    for key, value in headers:
        if key.lower() == b"connection":
            named |= {token.strip().lower() for token in value.split(b",")}
    drop = _HOP_BY_HOP | named
    return [(key, value) for key, value in headers if key.lower() not in drop]


def _request_headers(scope: Scope, ray_id: str) -> Headers:
    # httpx sets content-length from the body we hand it.
    headers = _strip_hop_by_hop(list(scope["headers"]), b"content-length", b"x-forwarded-proto")
    client_ip = scope["client"][0] if scope.get("client") else "127.0.0.1"
    forwarded_for = [value for key, value in headers if key.lower() == b"x-forwarded-for"]
    chain = b", ".join([*forwarded_for, client_ip.encode()])
    # A client must not be able to pass its own values for what the edge vouches for.
    ours = {b"x-forwarded-for", b"cf-ray", b"cf-connecting-ip", b"cf-visitor"}
    headers = [(k, v) for k, v in headers if k.lower() not in ours]
    headers += [
        (b"x-forwarded-for", chain),
        (b"x-forwarded-proto", b"https"),
        (b"cf-connecting-ip", client_ip.encode()),
        (b"cf-ray", ray_id.encode()),
        (b"cf-visitor", b'{"scheme":"https"}'),
    ]
    return headers


def failure_status(err: httpx.TransportError) -> int:
    """Map an origin failure to the status Cloudflare shows for it."""
    if isinstance(err, httpx.ConnectTimeout | httpx.PoolTimeout):
        return 522  # the TCP connection to the origin was not established in time
    if isinstance(err, httpx.TimeoutException):
        return 524  # connected, but the origin did not answer in time
    # Refused or broken connections: the "502 from Cloudflare" of the runbook (Cloudflare
    # itself says 521 for a refused connection; the runbook's symptom is what we reproduce).
    return 502


async def forward(
    client: httpx.AsyncClient,
    config: EdgeConfig,
    scope: Scope,
    body: bytes,
    ray_id: str,
    *,
    origin_url: str | None = None,
) -> Reply:
    """Send the request to the origin (`origin_url`, default the config's); raises httpx.TransportError
    if it cannot be had."""
    t = config.timeouts
    query = scope.get("query_string", b"")
    raw_path = scope.get("raw_path") or scope["path"].encode()
    url = httpx.URL(origin_url or config.origin_url).copy_with(raw_path=raw_path + (b"?" + query if query else b""))
    request = client.build_request(
        scope["method"],
        url,
        headers=_request_headers(scope, ray_id),
        content=body,
        timeout=httpx.Timeout(connect=t.connect_s, read=t.read_s, write=t.write_s, pool=t.pool_s),
    )
    response = await client.send(request, stream=True)
    # The edge sets its own server and date, as Cloudflare does.
    headers = _strip_hop_by_hop(list(response.headers.raw), b"server", b"date")
    # Raw bytes, so content-encoding and content-length from the origin stay true.
    return Reply(
        status=response.status_code,
        headers=headers,
        stream=response.aiter_raw(),
        close=response.aclose,
    )
