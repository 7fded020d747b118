"""Faults of the edge layer: what Cloudflare's configuration can get wrong in front of Synapse.

Request-level faults set a switch in edge.json's `faults` (see `stack.edge._faults`), which the
running edge reads on its next request; healing removes the switch, so several faults can be
active and healed in any order. TLS-level faults (certificate, ALPN) change what the edge reads at
start, and restart it.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from stack import _tls
from stack._dns import PROXIED_A, PROXIED_AAAA
from stack._fault_types import Controls, Fault
from stack._synapse import PUBLIC_HOST, SERVER_NAME
from stack.edge import load_config
from stack.edge._faults import TWIN_KEY_ID

WRONG_DELEGATION = "matrix.elsewhere.test:443"
SLOW_ORIGIN_DELAY_S = 3.0  # over the target's latency_p95_ms (stack._target: 2 s)
SLOWISH_ORIGIN_DELAY_S = 0.8  # over its warning line (0.5 s), well under latency_p95_ms
EXPIRING_LIFETIME = datetime.timedelta(days=5)  # under min_days_remaining (14), over critical (3)
CRITICAL_LIFETIME = datetime.timedelta(days=2)  # under critical_days_remaining (3)
BLIP_PATH = "/_matrix/client/versions"
LEGACY_TLS = "TLSv1.1"  # the newest version the tls-legacy-only edge offers
_EDGE_HOSTS = [PUBLIC_HOST, SERVER_NAME]


def _switch(
    name: str,
    failure_mode: str,
    summary: str,
    params: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    status: str = "unhealthy",
) -> Fault:
    """A switch of edge.json's `faults`; `params` may be made anew at each injection."""

    def inject(controls: Controls) -> None:
        faults = load_config(controls.layout.edge_json).faults
        controls.edit_edge(faults={**faults, name: dict(params() if callable(params) else params)})

    def heal(controls: Controls) -> None:
        faults = load_config(controls.layout.edge_json).faults
        if name in faults:
            controls.edit_edge(faults={key: value for key, value in faults.items() if key != name})

    return Fault(name=name, failure_mode=failure_mode, summary=summary, inject=inject, heal=heal, status=status)


def _short_lived_cert(name: str, lifetime: datetime.timedelta) -> Fault:
    def inject(controls: Controls) -> None:
        # Noted first, so a heal after an inject that failed midway still renews the certificate.
        controls.record.extra[name] = {"lifetime_days": lifetime.days}
        controls.save()
        # Reissued by the same throwaway CA, so only the lifetime is wrong, not the trust.
        _tls.issue_edge_cert(controls.layout, _EDGE_HOSTS, lifetime=lifetime)
        controls.restart_component("edge")

    def heal(controls: Controls) -> None:
        if name not in controls.record.extra:
            return  # never injected (or already healed): the certificate is the healthy one
        _tls.issue_edge_cert(controls.layout, _EDGE_HOSTS)
        controls.restart_component("edge")
        del controls.record.extra[name]
        controls.save()

    return Fault(
        name=name,
        failure_mode="tls-certificate",
        summary=f"the edge serves a certificate with {lifetime.days} days left",
        inject=inject,
        heal=heal,
        status="degraded" if lifetime > datetime.timedelta(days=3) else "unhealthy",
    )


def _blip(name: str, failures: int, summary: str, status: str) -> Fault:
    # A fresh `since` each time, so every injection blips anew.
    return _switch(
        name,
        "origin-down",
        summary,
        lambda: {"path": BLIP_PATH, "failures": failures, "since": secrets.token_hex(8)},
        status,
    )


def _metrics_exposed(controls: Controls) -> None:
    faults = load_config(controls.layout.edge_json).faults
    # Synapse's metrics listener (plain HTTP on loopback), which no public route should reach.
    origin = f"http://127.0.0.1:{controls.record.ports['metrics']}"
    controls.edit_edge(faults={**faults, "metrics-exposed": {"origin_url": origin}})


def _metrics_blocked(controls: Controls) -> None:
    faults = load_config(controls.layout.edge_json).faults
    if "metrics-exposed" in faults:
        controls.edit_edge(faults={key: value for key, value in faults.items() if key != "metrics-exposed"})


def _keys_differ(controls: Controls) -> None:
    faults = load_config(controls.layout.edge_json).faults
    # The listener the target maps the second address of each family to (stack._target).
    ports = [controls.record.ports["edge-b"]]
    controls.edit_edge(faults={**faults, "keys-differ-by-address": {"ports": ports}})


def _keys_agree(controls: Controls) -> None:
    faults = load_config(controls.layout.edge_json).faults
    if "keys-differ-by-address" in faults:
        controls.edit_edge(faults={key: value for key, value in faults.items() if key != "keys-differ-by-address"})


def _legacy_tls(controls: Controls) -> None:
    # What heal restores: the edge's own setting (None: TLS 1.2 and 1.3), kept across processes.
    controls.record.extra.setdefault(
        "tls-legacy-only", {"max_tls_version": load_config(controls.layout.edge_json).max_tls_version}
    )
    controls.save()
    controls.edit_edge(max_tls_version=LEGACY_TLS)
    controls.restart_component("edge")


def _modern_tls_back(controls: Controls) -> None:
    saved = controls.record.extra.get("tls-legacy-only")
    if saved is None:
        return  # never injected (or already healed): nothing to restore
    controls.edit_edge(max_tls_version=saved["max_tls_version"])
    controls.restart_component("edge")
    del controls.record.extra["tls-legacy-only"]
    controls.save()


def _http1_only(controls: Controls) -> None:
    # What heal restores: the ALPN list the edge had, kept across processes in state.json.
    controls.record.extra.setdefault("http1-only", {"alpn": list(load_config(controls.layout.edge_json).alpn)})
    controls.save()
    controls.edit_edge(alpn=["http/1.1"])
    controls.restart_component("edge")


def _http2_back(controls: Controls) -> None:
    saved = controls.record.extra.get("http1-only")
    if saved is None:
        return  # never injected (or already healed): nothing to restore
    controls.edit_edge(alpn=list(saved["alpn"]))
    controls.restart_component("edge")
    del controls.record.extra["http1-only"]
    controls.save()


FAULTS: tuple[Fault, ...] = (
    _switch(
        "wellknown-wrong",
        "federation-broken",
        f"/.well-known/matrix/server delegates to {WRONG_DELEGATION}, a host that is not this homeserver",
        {"document": {"m.server": WRONG_DELEGATION}},
    ),
    _switch(
        "wellknown-missing",
        "federation-broken",
        "/.well-known/matrix/server answers 404, and nothing listens on port 8448",
        {},
    ),
    _switch(
        "keys-invalid",
        "federation-broken",
        "/_matrix/key/v2/server comes through the edge with signatures that do not verify",
        {},
    ),
    Fault(
        name="keys-differ-by-address",
        failure_mode="federation-broken",
        summary=f"two of the chat host's four addresses ({PROXIED_A[1]}, {PROXIED_AAAA[1]}) reach an origin "
        f"that serves the server's keys signed by another key ({TWIN_KEY_ID}): a split brain",
        inject=_keys_differ,
        heal=_keys_agree,
    ),
    _switch(
        "slow-origin",
        "slow-performance",
        f"the edge adds {SLOW_ORIGIN_DELAY_S:g} s to every homeserver response",
        {"delay_s": SLOW_ORIGIN_DELAY_S},
    ),
    _switch(
        "slow-origin-warning",
        "slow-performance",
        f"the edge adds {SLOWISH_ORIGIN_DELAY_S:g} s to every homeserver response: over the warning line, "
        "under the latency threshold",
        {"delay_s": SLOWISH_ORIGIN_DELAY_S},
        "degraded",
    ),
    _switch(
        "admin-exposed",
        "security-exposure",
        "the edge proxies /_synapse/admin to Synapse",
        {"prefixes": ["/_synapse/admin"]},
    ),
    Fault(
        name="metrics-exposed",
        failure_mode="security-exposure",
        summary="the edge proxies /_synapse/metrics to Synapse's metrics listener",
        inject=_metrics_exposed,
        heal=_metrics_blocked,
    ),
    _switch(
        "edge-bypassed",
        "edge-misconfigured",
        "answers come without Cloudflare's identity (server: nginx, no cf-ray): traffic bypasses the edge",
        {},
    ),
    _switch(
        "delivery-stuck",
        "messaging-broken",
        "the edge answers message sends with 200 and an event id but never forwards them: nothing is delivered",
        {},
    ),
    _switch(
        "waf-challenge",
        "edge-blocking",
        "a WAF rule answers non-browser clients with Cloudflare's challenge (403, cf-mitigated: challenge)",
        {"browser_tokens": ["Mozilla/"]},
    ),
    _short_lived_cert("cert-expiring", EXPIRING_LIFETIME),
    _short_lived_cert("cert-expiring-critical", CRITICAL_LIFETIME),
    _blip(
        "edge-blip",
        1,
        f"the edge answers the first request to {BLIP_PATH} with a 502, every later one as usual",
        "degraded",
    ),
    _blip(
        "edge-blip-confirmed",
        2,
        f"the edge answers the first two requests to {BLIP_PATH} with a 502: the retry fails too",
        "unhealthy",
    ),
    Fault(
        name="http1-only",
        failure_mode="edge-misconfigured",
        summary="the edge negotiates HTTP/1.1 only (no h2 in ALPN)",
        inject=_http1_only,
        heal=_http2_back,
    ),
    Fault(
        name="tls-legacy-only",
        failure_mode="tls-certificate",
        summary=f"the edge offers TLS 1.0 and 1.1 only (up to {LEGACY_TLS}, legacy ciphers): modern clients "
        "refuse the handshake",
        inject=_legacy_tls,
        heal=_modern_tls_back,
    ),
)
