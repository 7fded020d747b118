"""Matrix server discovery and server keys, per the server-server API ("Resolving server names").

Pure functions: the network is reached through the callables passed in, so the rules can be read
(and tested) apart from the probing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

from synthetics.exchange import Exchange, describe_json, parse_json
from synthetics.servername import is_ip_literal as _is_ip
from synthetics.servername import parse_server_name  # one grammar for the suite; still importable from here

__all__ = [
    "CLOUDFLARE_HTTPS_PORTS",
    "WELL_KNOWN_MAX_BYTES",
    "AddressKeys",
    "KeysReading",
    "Resolution",
    "WellKnown",
    "parse_server_name",
    "read_server_keys",
    "read_well_known_server",
    "resolve_delegation",
]

# Cloudflare proxies HTTPS on these ports only; 8448 is not among them.
CLOUDFLARE_HTTPS_PORTS = (443, 2053, 2083, 2087, 2096, 8443)
# Synapse reads at most this much of a .well-known/matrix/server answer.
WELL_KNOWN_MAX_BYTES = 50 * 1024
_KEY_ID = re.compile(r"^ed25519:[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class WellKnown:
    m_server: str | None
    problem: str | None  # why it cannot be used (then discovery goes on without it)
    warnings: tuple[str, ...] = ()


def read_well_known_server(status: int | None, headers: Mapping[str, str], body: bytes) -> WellKnown:
    """What a /.well-known/matrix/server answer says, or why it does not count."""
    if status != 200:
        return WellKnown(None, f"answered HTTP {status}, not 200")
    if len(body) > WELL_KNOWN_MAX_BYTES:
        return WellKnown(None, f"is {len(body)} bytes, over the {WELL_KNOWN_MAX_BYTES} bytes homeservers read")
    warnings = []
    content_type = headers.get("content-type", "")
    if not content_type.lower().startswith("application/json"):
        warnings.append(f"content type is {content_type or 'missing'!r}, not application/json")
    try:
        document = parse_json(body)
    except ValueError as error:
        return WellKnown(None, str(error).replace("body ", "", 1), tuple(warnings))
    if not isinstance(document, dict) or not isinstance(document.get("m.server"), str):
        return WellKnown(None, "has no 'm.server' string", tuple(warnings))
    try:
        parse_server_name(document["m.server"])
    except ValueError as error:
        return WellKnown(None, f"m.server is invalid: {error}", tuple(warnings))
    return WellKnown(document["m.server"], None, tuple(warnings))


@dataclass(frozen=True)
class Resolution:
    """Where federation traffic for the server name goes."""

    host: str  # the name certificates and Host headers must carry
    port: int
    connect_host: str  # differs from `host` when an SRV record points elsewhere
    steps: tuple[str, ...] = field(default_factory=tuple)
    problem: str | None = None

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


SrvLookup = Callable[[str], tuple[str, list[tuple[str, int]], bool]]
"""name -> (outcome, [(target, port)], target_is_cname) — outcome "ok" when records came back."""


def resolve_delegation(server_name: str, well_known: WellKnown | None, srv: SrvLookup) -> Resolution:
    """The spec's steps from a server name (and its well-known answer, if fetched) to host and port."""
    host, port = parse_server_name(server_name)
    if _is_ip(host):
        return Resolution(host, port or 8448, host, (f"{server_name} is an IP literal",))
    if port is not None:
        return Resolution(host, port, host, (f"{server_name} has an explicit port",))
    steps: list[str] = []
    if well_known is not None and well_known.m_server is not None:
        steps.append(f".well-known/matrix/server delegates to {well_known.m_server}")
        delegated, delegated_port = parse_server_name(well_known.m_server)
        if _is_ip(delegated) or delegated_port is not None:
            return Resolution(delegated, delegated_port or 8448, delegated, tuple(steps))
        return _by_srv(delegated, srv, steps)
    if well_known is not None:
        steps.append(f".well-known/matrix/server not used: {well_known.problem}")
    return _by_srv(host, srv, steps)


def _by_srv(host: str, srv: SrvLookup, steps: list[str]) -> Resolution:
    for prefix in ("_matrix-fed._tcp", "_matrix._tcp"):
        name = f"{prefix}.{host}"
        outcome, records, is_cname = srv(name)
        if outcome not in ("ok", "nxdomain", "nodata"):
            # Not "no record": the lookup itself failed, and a homeserver gives up rather than guess.
            steps.append(f"SRV {name} failed ({outcome})")
            return Resolution(host, 8448, host, tuple(steps), f"the SRV lookup of {name} failed ({outcome})")
        if outcome != "ok" or not records:
            steps.append(f"no SRV {name} ({outcome})")
            continue
        target, port = records[0]
        if is_cname:
            steps.append(f"SRV {name} -> {target}:{port}")
            return Resolution(host, port, target, tuple(steps), f"the SRV target {target} is a CNAME (RFC 2782)")
        deprecated = " (deprecated _matrix._tcp)" if prefix == "_matrix._tcp" else ""
        steps.append(f"SRV {name} -> {target}:{port}{deprecated}")
        return Resolution(host, port, target.rstrip("."), tuple(steps))
    steps.append(f"falling back to {host}:8448")
    return Resolution(host, 8448, host, tuple(steps))


@dataclass(frozen=True)
class KeysReading:
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    key_ids: tuple[str, ...]
    valid_until_ts: int | None


def read_server_keys(document: Any, server_name: str, now_ms: int | None = None) -> KeysReading:
    """What matrix-federation-tester checks of /_matrix/key/v2/server, with signedjson doing the crypto."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    problems: list[str] = []
    warnings: list[str] = []
    if not isinstance(document, dict):
        return KeysReading((f"the keys document is {describe_json(document)}, not a JSON object",), (), (), None)
    if document.get("server_name") != server_name:
        problems.append(f"server_name is {document.get('server_name')!r}, expected {server_name!r}")
    valid_until = document.get("valid_until_ts")
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        problems.append("valid_until_ts is missing")
        valid_until = None
    elif valid_until <= now_ms:
        problems.append(f"valid_until_ts is in the past ({(now_ms - valid_until) / 1000:.0f} s ago)")
    elif valid_until - now_ms < 3600 * 1000:
        warnings.append(f"valid_until_ts is under an hour away ({(valid_until - now_ms) / 60000:.0f} min)")
    verify_keys = document.get("verify_keys")
    keys: dict[str, Any] = {}
    if isinstance(verify_keys, dict):
        for key_id, entry in verify_keys.items():
            if not _KEY_ID.match(str(key_id)):
                continue
            try:
                if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
                    raise ValueError(f"{describe_json(entry)} with no 'key' string")
                raw = decode_base64(entry["key"])
                if len(raw) != 32:
                    raise ValueError(f"{len(raw)} bytes, not 32")
                keys[key_id] = decode_verify_key_bytes(key_id, raw)
            except Exception as error:  # any malformed entry is a finding, not a crash
                problems.append(f"verify key {key_id} is malformed: {error}")
    if not keys:
        problems.append("no ed25519 verify key")
    all_signatures = document.get("signatures")
    named = document.get("server_name")
    signatures = all_signatures.get(named) if isinstance(all_signatures, dict) and isinstance(named, str) else None
    if not isinstance(signatures, dict):
        signatures = {}
    signed_with = [key_id for key_id in signatures if str(key_id).startswith("ed25519:")]
    if not signed_with:
        problems.append("the document carries no ed25519 signature of its server")
    for key_id in signed_with:
        if key_id not in keys:
            problems.append(f"signed with {key_id}, which is not among the verify keys")
            continue
        try:
            verify_signed_json(document, str(named), keys[key_id])
        except SignatureVerifyException as error:
            problems.append(f"the signature by {key_id} does not verify ({error})")
        except Exception as error:  # a document canonical JSON cannot encode is a finding, not a crash
            problems.append(f"the signature by {key_id} cannot be checked: {type(error).__name__}: {error}")
    return KeysReading(tuple(problems), tuple(warnings), tuple(sorted(keys)), valid_until)


@dataclass(frozen=True)
class AddressKeys:
    """The keys document fetched from each address the federation host resolves to."""

    note: str  # why there is no per-address probe, if there is none
    by_address: tuple[tuple[str, Exchange], ...]
