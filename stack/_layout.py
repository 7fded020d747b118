"""Where everything of one deployment lives inside its state directory."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


def default_state_dir() -> Path:
    """`$SYNTHETICS_STACK_DIR`, else a per-user directory in the system temp dir."""
    configured = os.environ.get("SYNTHETICS_STACK_DIR")
    if configured:
        return Path(configured).absolute()
    return Path(tempfile.gettempdir()).absolute() / f"synthetics-stack-{os.getuid()}"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def marker(self) -> Path:
        # `down` deletes the directory only when this file says it is ours.
        return self.root / ".synthetics-stack"

    @property
    def state_json(self) -> Path:
        return self.root / "state.json"

    @property
    def target_yaml(self) -> Path:
        return self.root / "target.yaml"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    # PostgreSQL: the data directory and a directory for its socket and log, both owned by
    # the user PostgreSQL runs as.
    @property
    def pg_data(self) -> Path:
        return self.root / "pg"

    @property
    def pg_run(self) -> Path:
        return self.root / "pg-run"

    @property
    def pg_log(self) -> Path:
        return self.pg_run / "postgres.log"

    @property
    def pgpass(self) -> Path:
        return self.secrets / "pgpass"

    # Synapse
    @property
    def homeserver_yaml(self) -> Path:
        return self.root / "homeserver.yaml"

    @property
    def synapse_log_config(self) -> Path:
        return self.root / "synapse-log.yaml"

    @property
    def synapse_log(self) -> Path:
        return self.root / "synapse.log"

    @property
    def synapse_stdout(self) -> Path:
        return self.root / "synapse.stdout.log"

    @property
    def media_store(self) -> Path:
        return self.root / "media"

    @property
    def signing_key(self) -> Path:
        return self.secrets / "phenom.test.signing.key"

    @property
    def registration_secret(self) -> Path:
        return self.secrets / "registration_shared_secret"

    @property
    def macaroon_secret(self) -> Path:
        return self.secrets / "macaroon_secret_key"

    @property
    def form_secret(self) -> Path:
        return self.secrets / "form_secret"

    # The suite's users (see `_users`): their access tokens, which the target points the suite at.
    @property
    def canary_token(self) -> Path:
        return self.secrets / "canary-token"

    @property
    def admin_token(self) -> Path:
        return self.secrets / "admin-token"

    # Edge and TLS
    @property
    def edge_json(self) -> Path:
        return self.root / "edge.json"

    @property
    def edge_log(self) -> Path:
        return self.root / "edge.log"

    @property
    def edge_requests(self) -> Path:
        # One JSON line per request the edge answered (see `stack.edge._config.EdgeConfig.request_log`).
        return self.root / "edge-requests.jsonl"

    @property
    def ca_pem(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.secrets / "ca-key.pem"

    @property
    def edge_cert(self) -> Path:
        return self.root / "edge-cert.pem"

    @property
    def edge_key(self) -> Path:
        return self.secrets / "edge-key.pem"

    # DNS
    @property
    def dns_json(self) -> Path:
        return self.root / "dns.json"

    @property
    def dns_log(self) -> Path:
        return self.root / "dns.log"

    # AWS (moto) and the log shipper
    @property
    def aws_credentials(self) -> Path:
        # Dummy keys for moto, in the shared-credentials format the target names.
        return self.root / "aws-credentials"

    @property
    def moto_log(self) -> Path:
        return self.root / "moto.log"

    @property
    def shipper_json(self) -> Path:
        return self.root / "shipper.json"

    @property
    def shipper_log(self) -> Path:
        return self.root / "shipper.log"

    # Reaper
    @property
    def reaper_log(self) -> Path:
        return self.root / "reaper.log"
