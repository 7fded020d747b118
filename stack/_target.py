"""target.yaml: the contract between this deployment and the suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stack._layout import Layout
from stack._synapse import PUBLIC_HOST, SERVER_NAME


def target_document(layout: Layout, edge_port: int) -> dict[str, Any]:
    edge = f"127.0.0.1:{edge_port}"
    return {
        "name": "local",
        "homeserver": {
            "base_url": f"https://{PUBLIC_HOST}",
            "server_name": SERVER_NAME,
            "delegation": f"{PUBLIC_HOST}:443",
        },
        "edge": {"provider": "cloudflare"},
        "tls": {"ca_bundle": str(layout.ca_pem), "min_days_remaining": 14},
        "dns": {"nameservers": []},
        "network": {
            "timeout_s": 5,
            # The public names stay in URLs, SNI and Host; only the TCP connection is redirected.
            "connect_to": {f"{PUBLIC_HOST}:443": edge, f"{SERVER_NAME}:443": edge},
        },
        "aws": None,
        "credentials": {
            "admin_token_env": "SYNAPSE_ADMIN_TOKEN",
            "canary_token_env": "SYNTHETICS_CANARY_TOKEN",
        },
    }


def write_target(layout: Layout, edge_port: int) -> Path:
    text = yaml.safe_dump(target_document(layout, edge_port), sort_keys=False)
    layout.target_yaml.write_text(text)
    return layout.target_yaml
