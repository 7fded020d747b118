"""target.yaml: the contract between this deployment and the suite."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from stack._aws_seed import target_section
from stack._dns import FEDERATION_HOST, PROXIED_A, PROXIED_AAAA, SRV_PORT
from stack._layout import Layout
from stack._synapse import PUBLIC_HOST, SERVER_NAME
from stack._users import CANARY_ROOM, CANARY_USER_ID

LATENCY_WARNING_MS = 500.0
LATENCY_CRITICAL_MS = 2000.0


def target_document(
    layout: Layout,
    edge_port: int,
    *,
    dns_port: int,
    closed_port: int,
    admin_port: int,
    address_port: int,
    federation_port: int,
    moto_port: int | None = None,
    metrics_port: int | None = None,
) -> dict[str, Any]:
    edge = f"127.0.0.1:{edge_port}"
    # The edge's listener for the second address of each family: the same edge, a port of its own,
    # so one address can be made to answer differently (keys-differ-by-address).
    edge_b = f"127.0.0.1:{address_port}"
    # The edge's federation listener, where an SRV record of the server name points (srv_records).
    federation = f"127.0.0.1:{federation_port}"
    # Synapse's internal admin listener, for the admin API the edge does not forward.
    synapse = f"127.0.0.1:{admin_port}"
    # Cloudflare does not proxy 8448: the edge holds this port bound without listening (refused).
    closed = f"127.0.0.1:{closed_port}"
    # Synapse's metrics listener (loopback, plain HTTP), as a run from inside reaches it.
    metrics = f"127.0.0.1:{metrics_port}" if metrics_port is not None else None
    document: dict[str, Any] = {
        "name": "local",
        "homeserver": {
            "base_url": f"https://{PUBLIC_HOST}",
            "server_name": SERVER_NAME,
            "delegation": f"{PUBLIC_HOST}:443",
            "admin_url": f"http://{synapse}",
            **({"metrics_url": f"http://{metrics}/_synapse/metrics"} if metrics else {}),
            # What this deployment runs (the Synapse installed beside it), as a deploy pipeline knows it.
            "synapse_version": version("matrix-synapse"),
        },
        "edge": {"provider": "cloudflare"},
        "tls": {"ca_bundle": str(layout.ca_pem), "min_days_remaining": 14},
        "dns": {"nameservers": [f"127.0.0.1:{dns_port}"]},
        "network": {
            "timeout_s": 5,
            # The public names stay in URLs, SNI and Host; only the TCP connection is redirected.
            # The names resolve to Cloudflare's public addresses, so no probe may bypass this map.
            "connect_to": {
                f"{PUBLIC_HOST}:443": edge,
                f"{SERVER_NAME}:443": edge,
                f"{PUBLIC_HOST}:8448": closed,
                f"{SERVER_NAME}:8448": closed,
                # The SRV target: Cloudflare's 8443 reaches the federation listener; nothing on 8448.
                f"{FEDERATION_HOST}:{SRV_PORT}": federation,
                f"{FEDERATION_HOST}:8448": closed,
                # One address at a time (the keys of every address): the first of each family is the
                # edge's listener, the second its other one. Only a probe of one address uses these.
                **{_authority(address, 443): edge for address in (PROXIED_A[0], PROXIED_AAAA[0])},
                **{_authority(address, 443): edge_b for address in (PROXIED_A[1], PROXIED_AAAA[1])},
                # With connect_to_only, an address is reachable only when it is mapped, even to itself.
                synapse: synapse,
            },
            "connect_to_only": True,
            # What the runner should always reach: here its own loopback resolver (a test that cuts
            # the runner's network sees it fail first).
            "control": {"resolvers": [f"127.0.0.1:{dns_port}"], "name": SERVER_NAME},
        },
        # The deployment's AWS is a moto server; the section names what `_aws_seed` created there.
        "aws": None if moto_port is None else target_section(str(layout.aws_credentials), moto_port),
        "canary": {"user_id": CANARY_USER_ID, "room": CANARY_ROOM},
        # Lines low enough that the slow-origin-warning fault crosses one and not the other while
        # the canary journeys keep well inside their budgets.
        "thresholds": {"latency_p95_warning_ms": LATENCY_WARNING_MS, "latency_p95_ms": LATENCY_CRITICAL_MS},
        "credentials": {
            "admin_token_env": "SYNAPSE_ADMIN_TOKEN",
            "canary_token_env": "SYNTHETICS_CANARY_TOKEN",
            # The tokens `_users` made at boot, read when the variables are not set; the values
            # stay in their 0600 files, never in this file.
            "admin_token_file": str(layout.admin_token),
            "canary_token_file": str(layout.canary_token),
        },
    }
    if metrics:
        # With connect_to_only, the metrics listener is reachable only when mapped, like the admin one.
        document["network"]["connect_to"][metrics] = metrics
    return document


def _authority(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def write_target(
    layout: Layout,
    edge_port: int,
    *,
    dns_port: int,
    closed_port: int,
    admin_port: int,
    address_port: int,
    federation_port: int,
    moto_port: int | None = None,
    metrics_port: int | None = None,
) -> Path:
    document = target_document(
        layout,
        edge_port,
        dns_port=dns_port,
        closed_port=closed_port,
        admin_port=admin_port,
        address_port=address_port,
        federation_port=federation_port,
        moto_port=moto_port,
        metrics_port=metrics_port,
    )
    text = yaml.safe_dump(document, sort_keys=False)
    layout.target_yaml.write_text(text)
    return layout.target_yaml
