"""Assertions on client and server discovery, and on server keys."""

from __future__ import annotations

from synthetics import match
from synthetics.exchange import Exchange, Followed, describe_json
from synthetics.federation import (
    CLOUDFLARE_HTTPS_PORTS,
    AddressKeys,
    KeysReading,
    Resolution,
    read_server_keys,
    read_well_known_server,
)
from synthetics.must._core import fail, match_response, note, warn


def delegate(followed: Followed, expected: str) -> None:
    """/.well-known/matrix/server answers 200 JSON whose m.server is the expected delegation."""
    __tracebackhide__ = True
    final = followed.final
    for hop in followed.insecure_hops:
        warn(f"insecure hop in discovery: {hop}")
    if followed.problem:
        raise fail(followed.problem, exchange=followed.exchanges[0])
    match_response(final, match.status(200))
    reading = read_well_known_server(final.status, final.headers, final.body)
    if reading.m_server is None:
        raise fail(f"{reading.problem}", exchange=final)
    if reading.m_server != expected:
        raise fail(
            f"m.server is {reading.m_server!r}, expected {expected!r}: "
            "other servers would send this homeserver's federation traffic elsewhere",
            exchange=final,
        )
    for warning in reading.warnings:
        warn(f"{final.request_line}: {warning}")


def discover(resolution: Resolution) -> None:
    __tracebackhide__ = True
    if resolution.problem:
        raise fail(
            f"server discovery: {resolution.problem} ({'; '.join(resolution.steps)})",
        )


def federate_on_a_cloudflare_port(resolution: Resolution) -> None:
    __tracebackhide__ = True
    if resolution.port not in CLOUDFLARE_HTTPS_PORTS:
        ports = ", ".join(str(p) for p in CLOUDFLARE_HTTPS_PORTS)
        raise fail(
            f"federation resolves to {resolution.authority} ({'; '.join(resolution.steps)}), but Cloudflare "
            f"proxies HTTPS only on ports {ports}: other servers cannot reach it through the orange cloud",
        )


def serve_valid_keys(exchange: Exchange, server_name: str) -> KeysReading:
    """/_matrix/key/v2/server names this server, is valid, and every signature verifies."""
    __tracebackhide__ = True
    match_response(exchange, match.status(200), match.json_body())
    reading = read_server_keys(exchange.json(), server_name)
    if reading.problems:
        raise fail("; ".join(reading.problems), exchange=exchange)
    for warning in reading.warnings:
        warn(f"{exchange.request_line}: {warning}")
    return reading


def agree_on_keys(per_address: AddressKeys, server_name: str) -> None:
    """Every address of the federation host serves the same valid keys (no split brain)."""
    __tracebackhide__ = True
    if per_address.note:
        note(per_address.note)
    if not per_address.by_address:
        return
    seen: dict[str, tuple[str, ...]] = {}
    for address, exchange in per_address.by_address:
        seen[address] = serve_valid_keys(exchange, server_name).key_ids
    if len(set(seen.values())) > 1:
        detail = "; ".join(f"{address}: {', '.join(keys)}" for address, keys in seen.items())
        raise fail(f"the federation host's addresses serve different keys: {detail}")


def advertise_homeserver(exchange: Exchange, base_url: str) -> None:
    """/.well-known/matrix/client names the homeserver and lets web clients read it (CORS)."""
    __tracebackhide__ = True
    match_response(exchange, match.status(200), match.json_body())
    document = exchange.json()
    homeserver = document.get("m.homeserver") if isinstance(document, dict) else None
    if not isinstance(homeserver, dict):
        seen = describe_json(homeserver if isinstance(document, dict) else document)
        raise fail(f"{exchange.request_line}: m.homeserver is {seen}, expected an object with a base_url")
    advertised = homeserver.get("base_url")
    if not isinstance(advertised, str) or advertised.rstrip("/") != base_url.rstrip("/"):
        raise fail(f"m.homeserver.base_url is {advertised!r}, expected {base_url!r}", exchange=exchange)
    cors = exchange.header("access-control-allow-origin")
    if cors != "*":
        raise fail(f"Access-Control-Allow-Origin is {cors!r}, expected '*' (web clients need it)", exchange=exchange)
