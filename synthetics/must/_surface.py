"""Assertions on DNS, TLS, latency and the edge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from synthetics import match
from synthetics.bounds import first_few
from synthetics.catalogue import Mode
from synthetics.exchange import Exchange
from synthetics.http_failure import read_failure
from synthetics.latency import Latency
from synthetics.must._core import fail, match_response, warn
from synthetics.resolve import Lookup, in_cloudflare
from synthetics.runner import ControlReport
from synthetics.tls import TlsReport


def resolve(lookups: Sequence[Lookup]) -> None:
    """At least one address record (A or AAAA) answers; NXDOMAIN, SERVFAIL and timeouts are told apart."""
    __tracebackhide__ = True
    if any(lookup.ok for lookup in lookups):
        return
    offline = all(lookup.outcome == "no-route" for lookup in lookups)
    raise fail(
        "; ".join(lookup.describe() for lookup in lookups), failure_mode=Mode.RUNNER_OFFLINE if offline else None
    )


def lie_in_cloudflare(lookups: Sequence[Lookup]) -> None:
    """Every address is Cloudflare's: anything else exposes the origin (the orange cloud is off)."""
    __tracebackhide__ = True
    addresses = [address for lookup in lookups if lookup.ok for address in lookup.records]
    outside = [address for address in addresses if not in_cloudflare(address)]
    if outside:
        name = lookups[0].name
        raise fail(
            f"{name} resolves to {first_few(outside)}"
            + (f" ({len(outside)} of its {len(addresses)} addresses)" if len(outside) > 1 else "")
            + ", outside Cloudflare's published ranges: "
            "the record is not proxied (grey cloud) and exposes the origin",
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
        )


def last_days(report: TlsReport, min_days: int, critical_days: int) -> None:
    """Valid for `min_days` more days; fewer is a warning (renew it soon), under `critical_days` an outage."""
    __tracebackhide__ = True
    _tls_reachable(report)
    days = report.days_left()
    expiry = report.not_after.isoformat() if report.not_after else "unknown"
    left = f"{report.host}:{report.port}: the certificate expires {expiry} ({days or 0:.1f} days left)"
    if days is None or days < critical_days:
        raise fail(f"{left}, under the {critical_days} days under which clients will soon refuse it")
    if days < min_days:
        warn(f"{left}, under the {min_days} days the target asks for: renew it before {critical_days} days are left")


def speak_modern_tls(report: TlsReport) -> None:
    __tracebackhide__ = True
    _tls_reachable(report)
    if not report.modern:
        raise fail(
            f"{report.host}:{report.port} negotiated {report.version}; TLS 1.2 or newer expected",
        )


def stay_within(latency: Latency) -> None:
    """The p95 of the sample is within the target's threshold."""
    __tracebackhide__ = True
    if latency.first_failure is not None:
        # The versions check names that failure; here it only means no latency could be measured.
        match_response(latency.first_failure, match.status(200))
    for retried in latency.retried:
        match_response(retried, match.status(200))  # answered on a second attempt: says so
    samples = ", ".join(f"{value:.0f}" for value in latency.samples_ms)
    measured = f"p95 latency of /versions is {latency.p95_ms:.0f} ms"
    spread = f"(p50 {latency.p50_ms:.0f} ms; samples {samples} ms)"
    if latency.p95_ms > latency.threshold_ms:
        raise fail(f"{measured}, over the {latency.threshold_ms:.0f} ms threshold {spread}")
    if latency.p95_ms > latency.warning_ms:
        warn(
            f"{measured}, over the {latency.warning_ms:.0f} ms warning line "
            f"(under {latency.threshold_ms:.0f} ms) {spread}"
        )


def not_be_challenged(probes: Mapping[str, Exchange]) -> None:
    """No WAF or bot challenge for Matrix API traffic, whoever's User-Agent it carries.

    A challenge is recognised by Cloudflare's own markers only (cf-mitigated, its challenge page):
    any other status is the origin's answer, judged by the checks that read it, never a challenge.
    """
    __tracebackhide__ = True
    for agent, exchange in probes.items():
        if exchange.error is not None:
            match_response(exchange)  # no answer is no evidence: the transport's failure, never a pass
        if _challenged(exchange):
            raise fail(
                f"answered {exchange.status} with a challenge to User-Agent {agent!r} "
                f"(cf-mitigated: {exchange.header('cf-mitigated')}; cf-ray: {exchange.header('cf-ray')}): "
                "homeservers and bots cannot pass it",
                exchange=exchange,
            )


def _challenged(exchange: Exchange) -> bool:
    if (exchange.header("cf-mitigated") or "").lower() == "challenge":
        return True
    page = exchange.text[:20_000] if exchange.status in (403, 429, 503) else ""
    return "Just a moment" in page and any(marker in page for marker in _CHALLENGE_PAGE_MARKERS)


# What Cloudflare's challenge pages carry besides their title (its script's path, its element ids).
_CHALLENGE_PAGE_MARKERS = ("/cdn-cgi/challenge-platform/", "cf-chl", "cf_chl", "challenge-running", "challenge-error")


def reach_the_network(report: ControlReport) -> None:
    """Something of the runner's control answers (a resolver, the URL): its own network works."""
    __tracebackhide__ = True
    if not report.reached:
        raise fail(f"the runner reached none of its controls: {'; '.join(report.tried())}")
