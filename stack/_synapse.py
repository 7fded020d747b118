"""The real Synapse homeserver from PyPI, configured for the `phenom.test` reference deployment."""

from __future__ import annotations

import io
import logging
import os
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import yaml
from signedjson.key import generate_signing_key, write_signing_keys

from stack._errors import StackError
from stack._layout import Layout
from stack._postgres import DB_NAME, DB_USER
from stack._process import ProcRef, exit_code, is_running, last_line, spawn
from stack._secrets import new_secret, write_private

log = logging.getLogger(__name__)

SERVER_NAME = "phenom.test"
PUBLIC_HOST = "chat.phenom.test"
PUBLIC_BASEURL = f"https://{PUBLIC_HOST}/"


@dataclass(frozen=True)
class SynapsePorts:
    http: int
    metrics: int
    postgres: int
    admin: int  # an internal listener for the admin API, where the target's admin_url points


def write_config(
    layout: Layout, ports: SynapsePorts, *, media_storage_providers: Sequence[Mapping[str, Any]] = ()
) -> None:
    """homeserver.yaml, its log config and its secrets; no secret is written into the YAML."""
    for path in (layout.registration_secret, layout.macaroon_secret, layout.form_secret):
        write_private(path, new_secret() + "\n")
    keys = io.StringIO()
    # Synapse names its generated keys `a_` plus four random characters; we do the same.
    write_signing_keys(keys, [generate_signing_key(f"a_{secrets.token_hex(2)}")])
    write_private(layout.signing_key, keys.getvalue())
    layout.media_store.mkdir(exist_ok=True)

    layout.synapse_log_config.write_text(yaml.safe_dump(_log_config(layout), sort_keys=False))
    homeserver = _homeserver(layout, ports)
    if media_storage_providers:
        # E.g. S3 (see `_aws_seed.media_storage_provider`); the local store stays the primary copy.
        homeserver["media_storage_providers"] = [dict(provider) for provider in media_storage_providers]
    layout.homeserver_yaml.write_text(yaml.safe_dump(homeserver, sort_keys=False))


def admin_listener(port: int) -> dict[str, Any]:
    """The internal listener the admin API is reached on, as production keeps it off the public edge
    (the client resource carries /_synapse/admin)."""
    return {
        "port": port,
        "bind_addresses": ["127.0.0.1"],
        "type": "http",
        "tls": False,
        "x_forwarded": False,
        "resources": [{"names": ["client"], "compress": False}],
    }


def _homeserver(layout: Layout, ports: SynapsePorts) -> dict[str, Any]:
    # Imported here, at `up` only: loading Synapse's config costs every `python -m stack` call a second.
    from synapse.config.server import DEFAULT_IP_RANGE_BLOCKLIST

    return {
        "server_name": SERVER_NAME,
        "public_baseurl": PUBLIC_BASEURL,
        "pid_file": str(layout.root / "homeserver.pid"),
        "listeners": [
            {
                "port": ports.http,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                # The edge terminates TLS; trust its X-Forwarded-For/-Proto.
                "x_forwarded": True,
                "resources": [{"names": ["client", "federation"], "compress": False}],
            },
            admin_listener(ports.admin),
            {"port": ports.metrics, "bind_addresses": ["127.0.0.1"], "type": "metrics"},
        ],
        "enable_metrics": True,
        "database": {
            "name": "psycopg2",
            "args": {
                "user": DB_USER,
                "dbname": DB_NAME,
                "host": "127.0.0.1",
                "port": ports.postgres,
                # libpq reads the password from this 0600 file, keeping it out of the config.
                "passfile": str(layout.pgpass),
                "connect_timeout": 5,
                # Fewer connections opened at start; plenty for a synthetic-traffic workload.
                "cp_min": 1,
                "cp_max": 5,
            },
        },
        "media_store_path": str(layout.media_store),
        "signing_key_path": str(layout.signing_key),
        "registration_shared_secret_path": str(layout.registration_secret),
        "macaroon_secret_key_path": str(layout.macaroon_secret),
        "form_secret_path": str(layout.form_secret),
        "log_config": str(layout.synapse_log_config),
        "enable_registration": False,
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        # A fresh database still has ~40 background updates queued, run one a second by default:
        # without the pause they finish within a boot, instead of showing as pending for a minute.
        "background_updates": {"sleep_enabled": False},
        # Synapse retries a failed transaction 10 times over about 8 minutes before it backs off
        # from the destination; one quick retry shows a destination that fails within seconds. The
        # deployment federates with nobody but the loopback servers of its faults, so nothing else changes.
        "federation": {"max_long_retries": 1, "max_long_retry_delay": "1s"},
        # The only other homeserver this one ever meets is the stand-in a fault runs on loopback
        # (stack/_remote_server.py). Synapse refuses loopback destinations by default, and for a
        # server name that is an address no whitelist lifts that, so federation alone (this option
        # covers nothing else) gets Synapse's own default list without loopback. It trusts the
        # deployment's own CA, which issues the stand-in's certificate, for federation alone too.
        "federation_ip_range_blacklist": [block for block in DEFAULT_IP_RANGE_BLOCKLIST if block != "127.0.0.0/8"],
        "federation_custom_ca_list": [str(layout.ca_pem)],
    }


def _log_config(layout: Layout) -> dict[str, Any]:
    # A plain file handler, unbuffered, so a log shipper sees lines as they happen.
    return {
        "version": 1,
        "formatters": {
            "precise": {"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"}
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(layout.synapse_log),
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def start(layout: Layout) -> ProcRef:
    argv = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(layout.homeserver_yaml)]
    return spawn(argv, log=layout.synapse_stdout, cwd=layout.root, env=os.environ)


def wait_healthy(layout: Layout, ref: ProcRef, port: int, *, timeout_s: float = 60.0) -> None:
    """Poll /health until it answers 200; fail early if the process dies."""
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{port}/health"
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not is_running(ref):
                code = exit_code(ref)
                why = last_line(layout.synapse_log) or last_line(layout.synapse_stdout)
                raise StackError(f"synapse exited during startup (exit code {code}): {why}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    why = last_line(layout.synapse_log)
    raise StackError(f"synapse not healthy within {timeout_s:.0f} s; last log line: {why}")
