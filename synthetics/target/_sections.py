"""The deployment-facing sections of a target: homeserver, edge, TLS, DNS, network, canary and the rest.

Each field is one key, declared once: its type, its check, its default and what it means.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from synthetics.target._schema import nested, option, section
from synthetics.target._values import (
    HostPort,
    boolean,
    choice,
    connect_map,
    env_name,
    existing_file,
    https_url,
    integer,
    matching,
    matrix_server_name,
    nameserver_list,
    number,
    optional,
    optional_number,
    required,
    text,
    web_url,
)

__all__ = ["Canary", "Control", "Credentials", "Dns", "Edge", "Homeserver", "Network", "Reporting", "Thresholds", "Tls"]


@section
class Homeserver:
    base_url: str = option(required(https_url), doc="the client API's https:// URL")
    server_name: str = option(required(matrix_server_name), doc="the Matrix server name (the part after ':' in ids)")
    delegation: str | None = option(
        optional(matrix_server_name), default=None, doc="the host:port that /.well-known/matrix/server must name"
    )
    # Often internal only, so it is not assumed to be the public base URL.
    admin_url: str | None = option(
        optional(web_url("must be an http(s) URL with a host", refuse_query=True)),
        default=None,
        doc="where the admin API answers, when not at base_url",
    )
    # Synapse's metrics listener: private (Synapse's docs say keep it so), reached from inside only.
    metrics_url: str | None = option(
        optional(web_url("must be an http(s) URL with a host", refuse_query=True)),
        default=None,
        doc="Synapse's metrics listener (e.g. http://10.0.1.5:9000/_synapse/metrics), reachable from inside",
    )
    # A deploy that did not roll out leaves the old version running.
    synapse_version: str | None = option(
        optional(matching(r"[0-9]+(\.[0-9]+)+[A-Za-z0-9.+-]*", "must be a version like 1.163.2")),
        default=None,
        doc="the Synapse version that should be running (read from its metrics, synapse_build_info)",
    )
    # Then open registration is no finding.
    open_registration: bool = option(boolean, default=False, doc="true when registration is meant to be open to anyone")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


@section
class Edge:
    # Required once the section is given; a target without one has no edge (Target.edge's default).
    provider: str = option(
        required(choice("cloudflare", "none")), doc="cloudflare, or none (then the Cloudflare checks skip)"
    )


@section
class Tls:
    ca_bundle: str | None = option(
        existing_file, default=None, doc="a CA bundle for a private CA, relative to the target file"
    )
    min_days_remaining: int = option(
        integer(0, 3650), default=14, doc="days a certificate should still be valid for; fewer is a warning (degraded)"
    )
    critical_days_remaining: int = option(
        integer(0, 3650),
        default=3,
        doc="days under which an expiring certificate is an outage (unhealthy); at most min_days_remaining",
    )

    @property
    def critical_days(self) -> int:
        """The outage line: a default above a low `min_days_remaining` leaves no warning tier, no error."""
        return min(self.critical_days_remaining, self.min_days_remaining)


@section
class Dns:
    nameservers: tuple[HostPort, ...] = option(
        nameserver_list, default=(), doc="IPs (optionally :port) to ask instead of the system resolver"
    )


@section
class Control:
    """What the runner itself should always reach, whatever the target does: when none of it answers,
    the run says the runner is cut off (inconclusive) instead of blaming chat."""

    resolvers: tuple[HostPort, ...] = option(
        nameserver_list, default=(), doc="resolvers (ip[:port]) the runner should always get an answer from"
    )
    name: str = option(text, default="cloudflare.com", doc="the name asked of those resolvers")
    url: str | None = option(
        optional(web_url("must be an http(s) URL with a host")),
        default=None,
        doc="a URL the runner should always reach",
    )


@section
class Network:
    timeout_s: float = option(number(0.1, 120), default=5.0, doc="seconds before a probe gives up")
    connect_to: Mapping[HostPort, HostPort] = option(
        connect_map,
        default_factory=dict,
        doc="host:port -> ip:port: where TCP goes, names kept for TLS and Host; an address:port key maps "
        "a probe of that one address of a name",
    )
    # The reference deployment's DNS names public Cloudflare addresses that must never receive a
    # packet from a test.
    connect_to_only: bool = option(boolean, default=False, doc="never connect anywhere connect_to does not map")
    control: Control | None = option(
        nested(Control), default=None, doc="what the runner should always reach (told apart from the target)"
    )


@section
class Thresholds:
    latency_p95_ms: float = option(
        number(1, 600_000), default=2000.0, doc="95th percentile latency over which chat is too slow (unhealthy)"
    )
    latency_p95_warning_ms: float | None = option(
        optional_number(1, 600_000),
        default=None,
        doc="95th percentile latency over which a warning is raised (degraded); default: half latency_p95_ms",
    )

    @property
    def latency_warning_ms(self) -> float:
        return self.latency_p95_warning_ms if self.latency_p95_warning_ms is not None else self.latency_p95_ms / 2

    ecs_cpu_percent: float = option(number(1, 100), default=85.0, doc="ECS service CPU use that is too high")
    ecs_memory_percent: float = option(number(1, 100), default=90.0, doc="ECS service memory use that is too high")
    rds_min_free_storage_mb: float = option(
        number(0, 10_000_000), default=2048.0, doc="RDS free storage below which disk is running out"
    )
    room_state_events: float = option(
        number(1, 1_000_000_000), default=100_000.0, doc="state events that make a room outsized"
    )
    # Synapse's own metrics (homeserver.metrics_url), each over the interval between two scrapes.
    db_pool_wait_ms: float = option(
        number(0.1, 600_000), default=50.0, doc="average wait for a database connection per transaction"
    )
    db_transaction_ms: float = option(
        number(0.1, 600_000), default=100.0, doc="average duration of any one kind of database transaction"
    )
    event_lag_events: float = option(
        number(1, 1_000_000_000), default=1000.0, doc="events an event processor may be behind the persisted stream"
    )
    open_fds_percent: float = option(
        number(1, 100), default=80.0, doc="open file descriptors, as a share of the process's limit, that is too many"
    )
    reactor_tick_ms: float = option(
        number(1, 600_000), default=100.0, doc="average time of one tick of Synapse's reactor (its event loop)"
    )
    reactor_busy_percent: float = option(
        number(1, 100), default=50.0, doc="share of the interval Synapse's reactor spends in its ticks that is too much"
    )
    federation_pending_pdus: float = option(
        number(1, 1_000_000_000), default=1000.0, doc="PDUs that may wait in the outbound federation queue"
    )


@section
class Credentials:
    """Names of environment variables holding tokens, never the tokens themselves."""

    admin_token_env: str | None = option(env_name, default=None, doc="variable holding an admin token")
    canary_token_env: str | None = option(env_name, default=None, doc="variable holding the canary's token")
    alertmanager_token_env: str | None = option(
        env_name, default=None, doc="variable holding a bearer token for reporting.alertmanager_url"
    )
    pushgateway_token_env: str | None = option(
        env_name, default=None, doc="variable holding a bearer token for reporting.pushgateway_url"
    )
    # A generated target points at its own 0600 files.
    admin_token_file: str | None = option(
        existing_file, default=None, doc="file read for the admin token when the variable is not set"
    )
    canary_token_file: str | None = option(
        existing_file, default=None, doc="file read for the canary's token when the variable is not set"
    )


@section
class Reporting:
    """Where results go besides reports/: a Prometheus Pushgateway and/or an Alertmanager, so SREs' alerting pages."""

    pushgateway_url: str | None = option(
        optional(web_url("must be an http(s) URL without credentials")),
        default=None,
        doc="the Pushgateway that results are pushed to",
    )
    job: str = option(
        required(matching(r"[A-Za-z0-9_.-]+", "must be a plain name (letters, digits, _ . -)")),
        default="synapse-synthetics",
        doc="the Pushgateway job name",
    )
    alertmanager_url: str | None = option(
        optional(web_url("must be an http(s) URL without credentials")),
        default=None,
        doc="an Alertmanager each run posts its diagnosis to as alerts (for runs only from CI)",
    )
    # Where the run ran, so an inside and an outside run of one target never overwrite each other;
    # None: the --vantage option, else SYNTHETICS_VANTAGE, else github on GitHub Actions, else local.
    vantage: str | None = option(
        optional(matching(r"[A-Za-z0-9_.-]+", "must be a plain name (letters, digits, _ . -)")),
        default=None,
        doc="where the run runs (github, vpc, laptop...): a label on every series and alert",
    )
    # Alerts end a little past the next run and the dead man's switch waits three of these.
    schedule_interval_s: float = option(
        number(60, 86400), default=900.0, doc="seconds between scheduled runs (the heartbeat's period)"
    )


@section
class Canary:
    """The synthetic user and room the journeys use."""

    user_id: str = option(
        required(matching(r"@[^:\s]+:\S+", "must be a Matrix user id like '@name:server'")),
        doc="the synthetic user",
    )
    room: str = option(
        required(matching(r"[#!][^:\s]+:\S+", "must be a room alias '#name:server' or id '!id:server'")),
        doc="the room the journeys post in: an alias (#name:server) or id (!id:server)",
    )
    message_budget_s: float = option(number(1, 300), default=10.0, doc="seconds a message may take to arrive")
