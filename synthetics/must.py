"""Assertion helpers that fail a check with a failure mode, what was expected and what was seen."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence

from synthetics import match
from synthetics.check import current_check
from synthetics.diagnose import read_failure
from synthetics.federation import (
    CLOUDFLARE_HTTPS_PORTS,
    AddressKeys,
    KeysReading,
    Resolution,
    read_server_keys,
    read_well_known_server,
)
from synthetics.latency import Latency
from synthetics.match import Matcher
from synthetics.probe import Exchange, Followed
from synthetics.resolve import Lookup, in_cloudflare
from synthetics.tls import TlsReport

__all__ = ["CheckFailed", "fail", "match_response"]


class CheckFailed(AssertionError):
    """A check found its fault. The message starts with the failure mode, for people and for Allure."""

    def __init__(self, failure_mode: str, message: str) -> None:
        super().__init__(f"[{failure_mode}] {message}")
        self.failure_mode = failure_mode
        self.detail = message


def _declared_mode() -> str:
    info = current_check.get()
    return info.detects if info else "origin-down"


def fail(message: str, *, failure_mode: str | None = None) -> CheckFailed:
    """Builds the failure for `raise`; the failure mode defaults to the one the check declared."""
    return CheckFailed(failure_mode or _declared_mode(), message)


def match_response(exchange: Exchange, *matchers: Matcher, failure_mode: str | None = None) -> None:
    """Fails unless every matcher is satisfied.

    When the exchange itself proves a lower-layer fault (a Cloudflare 52x, a challenge), that fault
    is named, since it is the cause and the check's own expectation only its symptom. With no HTTP
    response at all, an explicit `failure_mode` names what the missing connection means for this
    check (e.g. federation-broken for a refused port 8448); else the transport error is read.
    """
    __tracebackhide__ = True
    problems = [problem for matcher in matchers if (problem := matcher(exchange))]
    if exchange.error is None and not problems:
        return
    reading = read_failure(exchange)
    if reading is not None and not (reading.transport and failure_mode):
        mode = reading.failure_mode
    else:
        mode = failure_mode or _declared_mode()
    if exchange.error is not None:
        parts = [f"{exchange.request_line}: no HTTP response ({exchange.error})"]
        if exchange.reused_failure:
            parts.append("not retried: an earlier probe of this host already failed this way")
    else:
        parts = [f"{exchange.request_line}: {problems[0]}", reading.meaning if reading else "", _edge_trace(exchange)]
    raise CheckFailed(mode, "; ".join(p for p in parts if p))


def _edge_trace(exchange: Exchange) -> str:
    server, ray = exchange.header("server"), exchange.header("cf-ray")
    bits = [f"server: {server}" if server else "", f"cf-ray: {ray}" if ray else ""]
    return ", ".join(b for b in bits if b)


# ---------------------------------------------------------------------------------------------
# Evidence other than one HTTP exchange.


def resolve(lookups: Sequence[Lookup]) -> None:
    """At least one address record (A or AAAA) answers; NXDOMAIN, SERVFAIL and timeouts are told apart."""
    __tracebackhide__ = True
    if any(lookup.ok for lookup in lookups):
        return
    raise fail("; ".join(lookup.describe() for lookup in lookups), failure_mode="dns-misconfigured")


def lie_in_cloudflare(lookups: Sequence[Lookup]) -> None:
    """Every address is Cloudflare's: anything else exposes the origin (the orange cloud is off)."""
    __tracebackhide__ = True
    addresses = [address for lookup in lookups if lookup.ok for address in lookup.records]
    outside = [address for address in addresses if not in_cloudflare(address)]
    if outside:
        name = lookups[0].name
        raise fail(
            f"{name} resolves to {', '.join(outside)}, outside Cloudflare's published ranges: "
            "the record is not proxied (grey cloud) and exposes the origin",
            failure_mode="dns-misconfigured",
        )


def _tls_reachable(report: TlsReport) -> None:
    __tracebackhide__ = True
    if report.error is not None:
        mode = read_failure(Exchange(method="TLS", url=f"{report.host}:{report.port}", error=report.error))
        raise fail(
            f"no TLS handshake with {report.host}:{report.port} ({report.error})",
            failure_mode=mode.failure_mode if mode and report.error.kind != "blocked" else None,
        )


def verify_tls(report: TlsReport) -> None:
    """The chain verifies against the target's trust store and the certificate names the host."""
    __tracebackhide__ = True
    _tls_reachable(report)
    if not report.verified:
        raise fail(
            f"{report.host}:{report.port}: the certificate does not verify: {report.verify_error} "
            f"(subject {report.subject}, names {', '.join(report.names) or 'none'})",
            failure_mode="tls-certificate",
        )


def last_days(report: TlsReport, min_days: int) -> None:
    __tracebackhide__ = True
    _tls_reachable(report)
    days = report.days_left()
    if days is None or days < min_days:
        expiry = report.not_after.isoformat() if report.not_after else "unknown"
        raise fail(
            f"{report.host}:{report.port}: the certificate expires {expiry} ({days or 0:.1f} days left), "
            f"under the {min_days} days the target asks for",
            failure_mode="tls-certificate",
        )


def speak_modern_tls(report: TlsReport) -> None:
    __tracebackhide__ = True
    _tls_reachable(report)
    if not report.modern:
        raise fail(
            f"{report.host}:{report.port} negotiated {report.version}; TLS 1.2 or newer expected",
            failure_mode="tls-certificate",
        )


def stay_within(latency: Latency) -> None:
    """The p95 of the sample is within the target's threshold."""
    __tracebackhide__ = True
    if latency.first_failure is not None:
        # The versions check names that failure; here it only means no latency could be measured.
        match_response(latency.first_failure, match.status(200), failure_mode="slow-performance")
    if latency.p95_ms > latency.threshold_ms:
        samples = ", ".join(f"{value:.0f}" for value in latency.samples_ms)
        raise fail(
            f"p95 latency of /versions is {latency.p95_ms:.0f} ms, over the {latency.threshold_ms:.0f} ms "
            f"threshold (p50 {latency.p50_ms:.0f} ms; samples {samples} ms)",
            failure_mode="slow-performance",
        )


def not_be_challenged(probes: Mapping[str, Exchange]) -> None:
    """No WAF or bot challenge for Matrix API traffic, whoever's User-Agent it carries."""
    __tracebackhide__ = True
    for agent, exchange in probes.items():
        if exchange.status in (403, 503, 429) and (
            (exchange.header("cf-mitigated") or "").lower() == "challenge" or "Just a moment" in exchange.text
        ):
            raise fail(
                f"{exchange.request_line} as {agent!r} answered {exchange.status} with a challenge "
                f"(cf-mitigated: {exchange.header('cf-mitigated')}; cf-ray: {exchange.header('cf-ray')}): "
                "homeservers and bots cannot pass it",
                failure_mode="edge-blocking",
            )
        match_response(exchange, match.status(200))


# ---------------------------------------------------------------------------------------------
# Discovery and federation.


def delegate(followed: Followed, expected: str) -> None:
    """/.well-known/matrix/server answers 200 JSON whose m.server is the expected delegation."""
    __tracebackhide__ = True
    final = followed.final
    if followed.problem:
        raise fail(f"{followed.exchanges[0].request_line}: {followed.problem}", failure_mode="federation-broken")
    match_response(final, match.status(200), failure_mode="federation-broken")
    reading = read_well_known_server(final.status, final.headers, final.body)
    if reading.m_server is None:
        raise fail(f"{final.request_line}: {reading.problem}", failure_mode="federation-broken")
    if reading.m_server != expected:
        raise fail(
            f"{final.request_line}: m.server is {reading.m_server!r}, expected {expected!r}: "
            "other servers would send this homeserver's federation traffic elsewhere",
            failure_mode="federation-broken",
        )
    for warning in reading.warnings:
        warn(f"{final.request_line}: {warning}")


def discover(resolution: Resolution) -> None:
    __tracebackhide__ = True
    if resolution.problem:
        raise fail(
            f"server discovery: {resolution.problem} ({'; '.join(resolution.steps)})", failure_mode="federation-broken"
        )


def federate_on_a_cloudflare_port(resolution: Resolution) -> None:
    __tracebackhide__ = True
    if resolution.port not in CLOUDFLARE_HTTPS_PORTS:
        ports = ", ".join(str(p) for p in CLOUDFLARE_HTTPS_PORTS)
        raise fail(
            f"federation resolves to {resolution.authority} ({'; '.join(resolution.steps)}), but Cloudflare "
            f"proxies HTTPS only on ports {ports}: other servers cannot reach it through the orange cloud",
            failure_mode="federation-broken",
        )


def serve_valid_keys(exchange: Exchange, server_name: str) -> KeysReading:
    """/_matrix/key/v2/server names this server, is valid, and every signature verifies."""
    __tracebackhide__ = True
    match_response(exchange, match.status(200), match.json_body(), failure_mode="federation-broken")
    reading = read_server_keys(exchange.json(), server_name)
    if reading.problems:
        raise fail(f"{exchange.request_line}: {'; '.join(reading.problems)}", failure_mode="federation-broken")
    for warning in reading.warnings:
        warn(f"{exchange.request_line}: {warning}")
    return reading


def agree_on_keys(per_address: AddressKeys, server_name: str) -> None:
    """Every address of the federation host serves the same valid keys (no split brain)."""
    __tracebackhide__ = True
    if per_address.note:
        warn(per_address.note)
        return
    seen: dict[str, tuple[str, ...]] = {}
    for address, exchange in per_address.by_address:
        seen[address] = serve_valid_keys(exchange, server_name).key_ids
    if len(set(seen.values())) > 1:
        detail = "; ".join(f"{address}: {', '.join(keys)}" for address, keys in seen.items())
        raise fail(f"the federation host's addresses serve different keys: {detail}", failure_mode="federation-broken")


def advertise_homeserver(exchange: Exchange, base_url: str) -> None:
    """/.well-known/matrix/client names the homeserver and lets web clients read it (CORS)."""
    __tracebackhide__ = True
    match_response(
        exchange,
        match.status(200),
        match.json_body(),
        failure_mode="client-discovery-broken",
    )
    advertised = exchange.json().get("m.homeserver", {}).get("base_url") if isinstance(exchange.json(), dict) else None
    if not isinstance(advertised, str) or advertised.rstrip("/") != base_url.rstrip("/"):
        raise fail(
            f"{exchange.request_line}: m.homeserver.base_url is {advertised!r}, expected {base_url!r}",
            failure_mode="client-discovery-broken",
        )
    cors = exchange.header("access-control-allow-origin")
    if cors != "*":
        raise fail(
            f"{exchange.request_line}: Access-Control-Allow-Origin is {cors!r}, expected '*' (web clients need it)",
            failure_mode="client-discovery-broken",
        )


# ---------------------------------------------------------------------------------------------
# Warnings: worth a look, not a failure.

_warnings: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("synthetics_warnings", default=None)


def warn(message: str) -> None:
    """Records a warning on the running check (in the verdict and the report); the check still passes."""
    collected = _warnings.get()
    if collected is not None:
        collected.append(message)


def collecting_warnings() -> tuple[list[str], contextvars.Token[list[str] | None]]:
    collected: list[str] = []
    return collected, _warnings.set(collected)


def stop_collecting_warnings(token: contextvars.Token[list[str] | None]) -> None:
    _warnings.reset(token)
