"""Faults of the edge layer: what Cloudflare's configuration can get wrong in front of Synapse.

Request-level faults set a switch in edge.json's `faults` (see `stack.edge._faults`), which the
running edge reads on its next request; healing removes the switch, so several faults can be
active and healed in any order. TLS-level faults (certificate, ALPN) change what the edge reads at
start, and restart it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from stack import _tls
from stack._fault_types import Controls, Fault
from stack._synapse import PUBLIC_HOST, SERVER_NAME
from stack.edge import load_config

WRONG_DELEGATION = "matrix.elsewhere.test:443"
SLOW_ORIGIN_DELAY_S = 3.0
EXPIRING_LIFETIME = datetime.timedelta(days=5)
_EDGE_HOSTS = [PUBLIC_HOST, SERVER_NAME]


def _switch(name: str, failure_mode: str, summary: str, params: Mapping[str, Any]) -> Fault:
    def inject(controls: Controls) -> None:
        faults = load_config(controls.layout.edge_json).faults
        controls.edit_edge(faults={**faults, name: dict(params)})

    def heal(controls: Controls) -> None:
        faults = load_config(controls.layout.edge_json).faults
        if name in faults:
            controls.edit_edge(faults={key: value for key, value in faults.items() if key != name})

    return Fault(name=name, failure_mode=failure_mode, summary=summary, inject=inject, heal=heal)


def _expiring_cert(controls: Controls) -> None:
    # Noted first, so a heal after an inject that failed midway still renews the certificate.
    controls.record.extra["cert-expiring"] = {"lifetime_days": EXPIRING_LIFETIME.days}
    controls.save()
    # Reissued by the same throwaway CA, so only the lifetime is wrong, not the trust.
    _tls.issue_edge_cert(controls.layout, _EDGE_HOSTS, lifetime=EXPIRING_LIFETIME)
    controls.restart_component("edge")


def _renewed_cert(controls: Controls) -> None:
    if "cert-expiring" not in controls.record.extra:
        return  # never injected (or already healed): the certificate is the healthy one
    _tls.issue_edge_cert(controls.layout, _EDGE_HOSTS)
    controls.restart_component("edge")
    del controls.record.extra["cert-expiring"]
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
    _switch(
        "slow-origin",
        "slow-performance",
        f"the edge adds {SLOW_ORIGIN_DELAY_S:g} s to every homeserver response",
        {"delay_s": SLOW_ORIGIN_DELAY_S},
    ),
    _switch(
        "admin-exposed",
        "security-exposure",
        "the edge proxies /_synapse/admin to Synapse",
        {"prefixes": ["/_synapse/admin"]},
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
    Fault(
        name="cert-expiring",
        failure_mode="tls-certificate",
        summary=f"the edge serves a certificate with {EXPIRING_LIFETIME.days} days left",
        inject=_expiring_cert,
        heal=_renewed_cert,
    ),
    Fault(
        name="http1-only",
        failure_mode="edge-misconfigured",
        summary="the edge negotiates HTTP/1.1 only (no h2 in ALPN)",
        inject=_http1_only,
        heal=_http2_back,
    ),
)
