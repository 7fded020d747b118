"""Assertions on client and server discovery, and on server keys."""

from __future__ import annotations

from synthetics import match
from synthetics.exchange import Exchange, Followed, describe_json
from synthetics.federation import (
    CLOUDFLARE_HTTPS_PORTS,
    AddressKeys,
    KeysReading,
    Reached,
    Resolution,
    read_server_keys,
    read_well_known_server,
)
from synthetics.match import Matcher
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
    if not resolution.candidates:
        raise fail(f"server discovery found nowhere to connect ({'; '.join(resolution.steps)})")


def federate_on_a_cloudflare_port(resolution: Resolution) -> None:
    __tracebackhide__ = True
    off = [c.authority for c in resolution.candidates if c.port not in CLOUDFLARE_HTTPS_PORTS]
    if off:
        ports = ", ".join(str(p) for p in CLOUDFLARE_HTTPS_PORTS)
        raise fail(
            f"federation resolves to {', '.join(off)} ({'; '.join(resolution.steps)}), but Cloudflare "
            f"proxies HTTPS only on ports {ports}: other servers cannot reach it through the orange cloud",
        )


def _reached(reached: Reached) -> None:
    __tracebackhide__ = True
    if not reached.by_candidate:
        resolution = reached.resolution
        why = resolution.problem or "no candidate"
        raise fail(f"server discovery found nowhere to connect: {why} ({'; '.join(resolution.steps)})")


def answer_on_every_candidate(reached: Reached, *matchers: Matcher) -> None:
    """Each place discovery sends federation to (every SRV record probed) answers as `matchers` say."""
    __tracebackhide__ = True
    _reached(reached)
    for _candidate, exchange in reached.by_candidate:
        match_response(exchange, *matchers)


def serve_valid_keys_on_every_candidate(reached: Reached, server_name: str) -> None:
    __tracebackhide__ = True
    _reached(reached)
    for _candidate, exchange in reached.by_candidate:
        serve_valid_keys(exchange, server_name)


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
    seen: dict[str, tuple[tuple[str, str], ...]] = {}
    for address, exchange in per_address.by_address:
        seen[address] = serve_valid_keys(exchange, server_name).verify_keys
    if len(set(seen.values())) > 1:
        # Key ids name the keys; the start of each public key tells apart two keys under one id.
        detail = "; ".join(
            f"{address}: {', '.join(f'{key_id} ({key[:8]}...)' for key_id, key in keys)}"
            for address, keys in seen.items()
        )
        raise fail(
            f"the federation host's addresses serve different keys: {detail}: other servers get a "
            "different key depending on the address they reach, and what one key signs fails against the other"
        )


def advertise_homeserver(followed: Followed, base_url: str) -> None:
    """/.well-known/matrix/client names the homeserver and lets web clients read it (CORS).

    Clients fetch it as browsers do, following redirects: one that ends in the document passes
    with a warning (each hop costs every client a round trip, and the file belongs on the server
    name), while a loop, an invalid hop or too many hops fail."""
    __tracebackhide__ = True
    for hop in followed.insecure_hops:
        warn(f"insecure hop in client discovery: {hop}")
    if followed.problem:
        raise fail(followed.problem, exchange=followed.exchanges[-1])
    exchange = followed.final
    if len(followed.exchanges) > 1:
        hops = " -> ".join(e.url for e in followed.exchanges)
        warn(f"/.well-known/matrix/client is reached through {len(followed.exchanges) - 1} redirect(s): {hops}")
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
