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
from unpaddedbase64 import decode_base64, encode_base64

from synthetics.exchange import Exchange, describe_json, parse_json
from synthetics.servername import (
    authority,
    parse_server_name,  # one grammar for the suite; still importable from here
)
from synthetics.servername import is_ip_literal as _is_ip

__all__ = [
    "CLOUDFLARE_HTTPS_PORTS",
    "MAX_SRV_CANDIDATES",
    "WELL_KNOWN_MAX_BYTES",
    "AddressKeys",
    "AliasLookup",
    "Candidate",
    "KeysReading",
    "Reached",
    "Resolution",
    "SrvLookup",
    "SrvRecord",
    "WellKnown",
    "order_srv",
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
class Candidate:
    """A host and port a homeserver connects to (an SRV target, a delegated host, an IP literal)."""

    host: str  # an IPv6 address without brackets
    port: int

    @property
    def authority(self) -> str:
        return authority(self.host, self.port)


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str  # without its trailing dot; "." is RFC 2782's "decidedly not available"


SrvLookup = Callable[[str], tuple[str, tuple[SrvRecord, ...]]]
"""name -> (outcome, records): outcome "ok" when records came back, else the lookup's outcome
(nxdomain, nodata: no record; anything else: the lookup failed)."""
AliasLookup = Callable[[str], bool]
"""name -> whether it is an alias (has a CNAME): an SRV target must not be one (RFC 2782)."""

# SRV records of the lowest priority probed, at most. Homeservers pick one at random by weight
# (RFC 2782); probing each in a fixed order makes the verdict the same on every run.
MAX_SRV_CANDIDATES = 4
DEFAULT_PORT = 8448


@dataclass(frozen=True)
class Resolution:
    """Where federation traffic for the server name goes, and what the requests say there.

    The spec step (`step`, "1" to "6", "3.1" to "3.5") decides three things apart: where TCP goes
    (`candidates`, in the order they are probed), the name the certificate must be valid for and
    SNI carries (`host`), and the `Host` header (`host_header`: the server name or the delegated
    name as given, so with a port only when that name had one).
    """

    host: str  # the name (or IP address) the certificate must be valid for, and SNI names
    host_header: str
    candidates: tuple[Candidate, ...]  # empty when discovery found nowhere a homeserver would connect
    step: str
    steps: tuple[str, ...] = field(default_factory=tuple)
    problem: str | None = None

    @property
    def port(self) -> int:
        return self.candidates[0].port if self.candidates else DEFAULT_PORT

    @property
    def connect_host(self) -> str:
        return self.candidates[0].host if self.candidates else self.host

    @property
    def authority(self) -> str:
        """Where the first candidate is, as host:port."""
        return authority(self.connect_host, self.port)

    def url(self, path: str) -> str:
        """The URL a federation request names: https://<Host header><path> (the TLS name in it)."""
        return f"https://{self.host_header}{path}"

    def describe(self) -> str:
        where = ", ".join(c.authority for c in self.candidates) or "nowhere"
        return f"step {self.step}: {where} (TLS name {self.host}, Host: {self.host_header})"


def _no_alias(name: str) -> bool:
    return False


def resolve_delegation(
    server_name: str, well_known: WellKnown | None, srv: SrvLookup, is_alias: AliasLookup = _no_alias
) -> Resolution:
    """The spec's steps ("Resolving server names") from a server name, and its well-known answer
    if fetched, to where a homeserver connects and what it says there."""
    host, port = parse_server_name(server_name)
    if _is_ip(host):
        step = f"1: {server_name} is an IP literal"
        return Resolution(host, server_name, (Candidate(host, port or DEFAULT_PORT),), "1", (step,))
    if port is not None:
        step = f"2: {server_name} has an explicit port"
        return Resolution(host, server_name, (Candidate(host, port),), "2", (step,))
    steps: list[str] = []
    if well_known is not None and well_known.m_server is not None:
        m_server = well_known.m_server
        steps.append(f"3: .well-known/matrix/server delegates to {m_server}")
        delegated, delegated_port = parse_server_name(m_server)
        if _is_ip(delegated):
            steps.append(f"3.1: {m_server} is an IP literal")
            candidate = Candidate(delegated, delegated_port or DEFAULT_PORT)
            return Resolution(delegated, m_server, (candidate,), "3.1", tuple(steps))
        if delegated_port is not None:
            steps.append(f"3.2: {m_server} has an explicit port")
            return Resolution(delegated, m_server, (Candidate(delegated, delegated_port),), "3.2", tuple(steps))
        return _by_srv(delegated, srv, is_alias, steps, ("3.3", "3.4", "3.5"))
    if well_known is not None:
        steps.append(f"3: .well-known/matrix/server not used: {well_known.problem}")
    return _by_srv(host, srv, is_alias, steps, ("4", "5", "6"))


def order_srv(records: tuple[SrvRecord, ...]) -> tuple[SrvRecord, ...]:
    """The records a homeserver would pick from first: the lowest priority (RFC 2782), the heaviest
    first, then by target and port so the order is fixed; at most MAX_SRV_CANDIDATES of them."""
    usable = [r for r in records if r.target not in (".", "")]
    if not usable:
        return ()
    lowest = min(r.priority for r in usable)
    first = sorted((r for r in usable if r.priority == lowest), key=lambda r: (-r.weight, r.target.lower(), r.port))
    return tuple(first[:MAX_SRV_CANDIDATES])


def _by_srv(
    host: str, srv: SrvLookup, is_alias: AliasLookup, steps: list[str], labels: tuple[str, str, str]
) -> Resolution:
    """Steps 3.3-3.5 for a delegated host, 4-6 for the server name: the same rules, other labels."""
    for label, prefix in zip(labels[:2], ("_matrix-fed._tcp", "_matrix._tcp"), strict=True):
        name = f"{prefix}.{host}"
        outcome, records = srv(name)
        if outcome not in ("ok", "nxdomain", "nodata"):
            # Not "no record": the lookup itself failed, and a homeserver gives up rather than guess.
            steps.append(f"{label}: SRV {name} failed ({outcome})")
            return Resolution(host, host, (), label, tuple(steps), f"the SRV lookup of {name} failed ({outcome})")
        if outcome != "ok" or not records:
            steps.append(f"{label}: no SRV {name} ({outcome})")
            continue
        deprecated = " (deprecated _matrix._tcp)" if prefix == "_matrix._tcp" else ""
        chosen = order_srv(records)
        if not chosen:
            # RFC 2782: a target of "." means the service is decidedly not available at this domain.
            steps.append(f"{label}: SRV {name} -> . (service decidedly not available){deprecated}")
            unavailable = f"SRV {name} says federation is decidedly not available (target '.', RFC 2782)"
            return Resolution(host, host, (), label, tuple(steps), unavailable)
        candidates = tuple(Candidate(r.target, r.port) for r in chosen)
        listed = ", ".join(f"{r.target}:{r.port} (priority {r.priority}, weight {r.weight})" for r in chosen)
        steps.append(f"{label}: SRV {name} -> {listed}{deprecated}")
        others = len([r for r in records if r.target not in (".", "")]) - len(chosen)
        if others:
            steps.append(f"{others} further SRV record(s) of {name} not probed (a higher priority, or over the cap)")
        aliases = [c.host for c in candidates if is_alias(c.host)]
        problem: str | None = None
        if aliases:
            problem = f"the SRV target {', '.join(aliases)} of {name} is a CNAME, which RFC 2782 forbids"
        return Resolution(host, host, candidates, label, tuple(steps), problem)
    steps.append(f"{labels[2]}: no SRV record: {host} on port {DEFAULT_PORT}")
    return Resolution(host, host, (Candidate(host, DEFAULT_PORT),), labels[2], tuple(steps))


@dataclass(frozen=True)
class KeysReading:
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    key_ids: tuple[str, ...]
    valid_until_ts: int | None
    # (key id, the public key in unpadded base64), by key id: what "the same keys" compares, so two
    # origins with one key id but different keys are told apart too
    verify_keys: tuple[tuple[str, str], ...] = ()


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
    material: dict[str, str] = {}
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
                material[key_id] = encode_base64(raw)
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
    return KeysReading(
        tuple(problems), tuple(warnings), tuple(sorted(keys)), valid_until, tuple(sorted(material.items()))
    )


@dataclass(frozen=True)
class AddressKeys:
    """The keys document fetched from each address the federation host resolves to."""

    note: str  # why there is no per-address probe, if there is none
    by_address: tuple[tuple[str, Exchange], ...]


@dataclass(frozen=True)
class Reached:
    """One federation request to each candidate of a resolution, in the resolution's order."""

    resolution: Resolution
    by_candidate: tuple[tuple[Candidate, Exchange], ...]
