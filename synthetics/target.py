"""The target file: which deployment to verify, parsed once into frozen, typed objects.

Every error names the file, the key path and the problem, so a bad file is fixed in one look.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from synthetics.servername import is_ip_literal, parse_server_name

__all__ = [
    "AwsSettings",
    "Credentials",
    "Target",
    "TargetError",
    "load_target",
    "parse_target",
]


class TargetError(Exception):
    """A target file that cannot be used; the message is meant for a person."""

    def __init__(self, source: str, key_path: str, problem: str) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        where = f"{source}: {key_path}: " if key_path else f"{source}: "
        super().__init__(where + problem)


@dataclass(frozen=True)
class Homeserver:
    base_url: str
    server_name: str
    delegation: str | None
    # Where the admin API answers (often internal only); None = base_url.
    admin_url: str | None = None
    # True when registration is meant to be open to anyone (then open registration is no finding).
    open_registration: bool = False

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


@dataclass(frozen=True)
class Edge:
    provider: str  # "cloudflare" | "none"


@dataclass(frozen=True)
class Tls:
    ca_bundle: str | None
    min_days_remaining: int


@dataclass(frozen=True)
class Dns:
    nameservers: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Network:
    timeout_s: float
    connect_to: Mapping[tuple[str, int], tuple[str, int]]
    # Never connect anywhere `connect_to` does not map (the reference deployment's DNS names
    # public Cloudflare addresses that must never receive a packet from a test).
    connect_to_only: bool = False


@dataclass(frozen=True)
class EcsSettings:
    cluster: str
    service: str


@dataclass(frozen=True)
class RdsSettings:
    instance: str
    database: str | None
    # The name of an environment variable holding a DSN for a direct, read-only probe (never the DSN).
    dsn_env: str | None = None


@dataclass(frozen=True)
class Ec2Settings:
    """Where Synapse runs on EC2 rather than ECS: an instance id, or a tag that finds it."""

    instance_id: str | None
    tag: tuple[str, str] | None


@dataclass(frozen=True)
class S3Settings:
    media_bucket: str | None
    canary_prefix: str = "synthetics-canary/"


@dataclass(frozen=True)
class LogsSettings:
    group: str
    lookback_minutes: int = 15


@dataclass(frozen=True)
class AwsSettings:
    profile: str | None
    region: str
    endpoint_url: str | None
    credentials_file: str | None  # a shared credentials file; None = the standard chain's own
    ecs: EcsSettings | None
    rds: RdsSettings | None
    ec2: Ec2Settings | None
    s3: S3Settings | None
    logs: LogsSettings | None


@dataclass(frozen=True)
class Thresholds:
    latency_p95_ms: float = 2000.0
    ecs_cpu_percent: float = 85.0
    ecs_memory_percent: float = 90.0
    rds_min_free_storage_mb: float = 2048.0
    room_state_events: float = 100_000.0


@dataclass(frozen=True)
class Credentials:
    admin_token_env: str | None
    canary_token_env: str | None
    # Files read when the variable is not set (a generated target points at its own 0600 files).
    admin_token_file: str | None = None
    canary_token_file: str | None = None


@dataclass(frozen=True)
class Reporting:
    """Where results go besides reports/: a Prometheus Pushgateway, so Alertmanager can page."""

    pushgateway_url: str | None = None
    job: str = "synapse-synthetics"


@dataclass(frozen=True)
class Canary:
    """The synthetic user and room the journeys use."""

    user_id: str
    room: str  # a room alias (#name:server) or id (!id:server)
    message_budget_s: float = 10.0


@dataclass(frozen=True)
class Target:
    name: str
    source: str
    embedded: bool
    homeserver: Homeserver | None
    edge: Edge
    tls: Tls
    dns: Dns
    network: Network
    aws: AwsSettings | None
    credentials: Credentials
    canary: Canary | None = None
    reporting: Reporting = field(default_factory=Reporting)
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Key path -> environment variable that was unset, so a skip can name what to set.
    unset_variables: Mapping[str, str] = field(default_factory=dict)

    def why_absent(self, key_path: str) -> str:
        """A skip reason for a value the target does not give."""
        variable = self.unset_variables.get(key_path)
        if variable:
            return f"{key_path} comes from ${{{variable}}}, which is not set: set {variable}"
        return f"{key_path} is not set in {self.source}"


# ---------------------------------------------------------------------------------------------
# Parsing

_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Reader:
    """Walks the YAML document, remembering the key path for every error."""

    def __init__(self, source: str, environ: Mapping[str, str]) -> None:
        self.source = source
        self.environ = environ
        self.unset_variables: dict[str, str] = {}

    def fail(self, path: str, problem: str) -> TargetError:
        return TargetError(self.source, path, problem)

    def section(self, data: Any, path: str, allowed: set[str], required: Iterable[str] = ()) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(path, f"must be a mapping, got {_kind(data)}")
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(_join(path, str(key)), f"unknown key (known keys here: {known})")
        for key in sorted(required):
            if key not in data or data[key] is None:
                raise self.fail(_join(path, key), "is required")
        return dict(data)

    def text(self, value: Any, path: str, *, optional: bool = False) -> str | None:
        if value is None:
            if optional:
                return None
            raise self.fail(path, "is required")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(path, f"must be a string, got {_kind(value)}")
        expanded = self.expand(str(value), path)
        if expanded is None or expanded == "":
            if optional:
                return None
            variable = self.unset_variables.get(path)
            if variable:
                raise self.fail(path, f"comes from ${{{variable}}}, which is not set")
            raise self.fail(path, "must not be empty")
        return expanded

    def expand(self, value: str, path: str) -> str | None:
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            if name in self.environ and self.environ[name] != "":
                return self.environ[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        expanded = _ENV_REFERENCE.sub(substitute, value)
        if missing:
            self.unset_variables[path] = missing[0]
            return None
        return expanded

    def number(self, value: Any, path: str, *, minimum: float, maximum: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, got {_kind(value)}")
        if not minimum <= value <= maximum:
            raise self.fail(path, f"must be between {minimum:g} and {maximum:g}, got {value}")
        return float(value)

    def integer(self, value: Any, path: str, *, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, got {_kind(value)}")
        if not minimum <= value <= maximum:
            raise self.fail(path, f"must be between {minimum} and {maximum}, got {value}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {_kind(value)}")
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return f"{type(value).__name__} ({value!r})"


def _https_url(reader: _Reader, value: Any, path: str) -> str:
    url = reader.text(value, path)
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise reader.fail(path, f"must be an https:// URL with a host, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise reader.fail(path, "must not carry credentials, a query or a fragment")
    return url.rstrip("/")


def _host_port(reader: _Reader, text: str, path: str, *, default_port: int | None) -> tuple[str, int]:
    """Parses "host", "host:port" or "[v6]:port" by the server-name grammar; no port = `default_port`."""
    try:
        host, port = parse_server_name(text)
    except ValueError as error:
        raise reader.fail(path, str(error)) from None
    if port is None:
        if default_port is None:
            raise reader.fail(path, f"must be host:port, got {text!r}")
        port = default_port
    return host, port


def _is_bare_ipv6(text: str) -> bool:
    return ":" in text and not text.startswith("[") and is_ip_literal(text)


def _env_name(reader: _Reader, value: Any, path: str) -> str | None:
    name = reader.text(value, path, optional=True)
    if name is not None and not _ENV_NAME.match(name):
        raise reader.fail(path, f"must name an environment variable (not hold a value), got {name!r}")
    return name


def _parse_homeserver(reader: _Reader, data: Any) -> Homeserver:
    section = reader.section(
        data,
        "homeserver",
        {"base_url", "server_name", "delegation", "admin_url", "open_registration"},
        {"base_url", "server_name"},
    )
    server_name = reader.text(section["server_name"], "homeserver.server_name")
    assert server_name is not None
    _host_port(reader, server_name, "homeserver.server_name", default_port=8448)
    delegation = reader.text(section.get("delegation"), "homeserver.delegation", optional=True)
    if delegation is not None:
        _host_port(reader, delegation, "homeserver.delegation", default_port=8448)
    admin_url = reader.text(section.get("admin_url"), "homeserver.admin_url", optional=True)
    if admin_url is not None:
        parts = urlsplit(admin_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
            raise reader.fail("homeserver.admin_url", f"must be an http(s) URL with a host, got {admin_url!r}")
        admin_url = admin_url.rstrip("/")
    return Homeserver(
        base_url=_https_url(reader, section["base_url"], "homeserver.base_url"),
        server_name=server_name,
        delegation=delegation,
        admin_url=admin_url,
        open_registration=reader.boolean(section.get("open_registration", False), "homeserver.open_registration"),
    )


def _parse_edge(reader: _Reader, data: Any) -> Edge:
    if data is None:
        return Edge(provider="none")
    section = reader.section(data, "edge", {"provider"}, {"provider"})
    provider = reader.text(section["provider"], "edge.provider")
    if provider not in ("cloudflare", "none"):
        raise reader.fail("edge.provider", f"must be 'cloudflare' or 'none', got {provider!r}")
    return Edge(provider=provider)


def _parse_tls(reader: _Reader, data: Any, base_dir: Path) -> Tls:
    if data is None:
        return Tls(ca_bundle=None, min_days_remaining=14)
    section = reader.section(data, "tls", {"ca_bundle", "min_days_remaining"})
    ca_bundle = _existing_file(reader, section.get("ca_bundle"), "tls.ca_bundle", base_dir)
    days = section.get("min_days_remaining", 14)
    return Tls(
        ca_bundle=ca_bundle,
        min_days_remaining=reader.integer(days, "tls.min_days_remaining", minimum=0, maximum=3650),
    )


def _parse_dns(reader: _Reader, data: Any) -> Dns:
    if data is None:
        return Dns(nameservers=())
    section = reader.section(data, "dns", {"nameservers"})
    raw = section.get("nameservers") or []
    if not isinstance(raw, list):
        raise reader.fail("dns.nameservers", f"must be a list, got {_kind(raw)}")
    servers = []
    for index, item in enumerate(raw):
        path = f"dns.nameservers[{index}]"
        text = reader.text(item, path)
        assert text is not None
        # A nameserver is an address, so a bare IPv6 one is unambiguous (resolv.conf writes them so).
        host, port = (text, 53) if _is_bare_ipv6(text) else _host_port(reader, text, path, default_port=53)
        if not is_ip_literal(host):
            raise reader.fail(path, f"must be an IP address (optionally with :port), got {text!r}")
        servers.append((host, port))
    return Dns(nameservers=tuple(servers))


def _parse_network(reader: _Reader, data: Any) -> Network:
    if data is None:
        return Network(timeout_s=5.0, connect_to={})
    section = reader.section(data, "network", {"timeout_s", "connect_to", "connect_to_only"})
    timeout = reader.number(section.get("timeout_s", 5), "network.timeout_s", minimum=0.1, maximum=120)
    raw = section.get("connect_to") or {}
    if not isinstance(raw, Mapping):
        raise reader.fail("network.connect_to", f"must be a mapping of 'host:port' to 'ip:port', got {_kind(raw)}")
    mapping: dict[tuple[str, int], tuple[str, int]] = {}
    for key, value in raw.items():
        path = f"network.connect_to.{key}"
        source = _host_port(reader, str(key), path, default_port=None)
        text = reader.text(value, path)
        assert text is not None
        mapping[source] = _host_port(reader, text, path, default_port=None)
    only = reader.boolean(section.get("connect_to_only", False), "network.connect_to_only")
    return Network(timeout_s=timeout, connect_to=mapping, connect_to_only=only)


def _existing_file(reader: _Reader, value: Any, path: str, base_dir: Path) -> str | None:
    text = reader.text(value, path, optional=True)
    if text is None:
        return None
    resolved = (base_dir / text).resolve()
    if not resolved.is_file():
        raise reader.fail(path, f"no such file: {resolved}")
    return str(resolved)


def _ec2(reader: _Reader, section: dict[str, Any]) -> Ec2Settings:
    instance_id = reader.text(section.get("instance_id"), "aws.ec2.instance_id", optional=True)
    tag_text = reader.text(section.get("tag"), "aws.ec2.tag", optional=True)
    if (instance_id is None) == (tag_text is None):
        raise reader.fail("aws.ec2", "give either instance_id or tag ('Key=Value')")
    tag = None
    if tag_text is not None:
        key, separator, value = tag_text.partition("=")
        if not separator or not key:
            raise reader.fail("aws.ec2.tag", f"must be 'Key=Value', got {tag_text!r}")
        tag = (key, value)
    return Ec2Settings(instance_id=instance_id, tag=tag)


def _canary_prefix(reader: _Reader, value: Any) -> str:
    prefix = reader.text(value, "aws.s3.canary_prefix")
    # A dedicated prefix keeps the canary (and the sweep of stale canaries) away from media keys.
    if not prefix or not prefix.endswith("/") or prefix.startswith("/") or len(prefix) < 3:
        raise reader.fail(
            "aws.s3.canary_prefix", f"must be a dedicated folder like 'synthetics-canary/', got {prefix!r}"
        )
    return prefix


def _parse_aws(reader: _Reader, data: Any, base_dir: Path) -> AwsSettings | None:
    if data is None:
        return None
    section = reader.section(
        data,
        "aws",
        {"profile", "region", "endpoint_url", "credentials_file", "ecs", "ec2", "rds", "s3", "logs"},
        {"region"},
    )
    endpoint = reader.text(section.get("endpoint_url"), "aws.endpoint_url", optional=True)
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise reader.fail("aws.endpoint_url", f"must be an http(s) URL, got {endpoint!r}")

    def sub(name: str, keys: set[str], required: set[str]) -> dict[str, Any] | None:
        value = section.get(name)
        return None if value is None else reader.section(value, f"aws.{name}", keys, required)

    ecs = sub("ecs", {"cluster", "service"}, {"cluster", "service"})
    rds = sub("rds", {"instance", "database", "dsn_env"}, {"instance"})
    ec2 = sub("ec2", {"instance_id", "tag"}, set())
    s3 = sub("s3", {"media_bucket", "canary_prefix"}, set())
    logs = sub("logs", {"group", "lookback_minutes"}, {"group"})
    region = reader.text(section["region"], "aws.region")
    assert region is not None
    return AwsSettings(
        profile=reader.text(section.get("profile"), "aws.profile", optional=True),
        region=region,
        endpoint_url=endpoint,
        credentials_file=_existing_file(reader, section.get("credentials_file"), "aws.credentials_file", base_dir),
        ecs=None
        if ecs is None
        else EcsSettings(
            cluster=str(reader.text(ecs["cluster"], "aws.ecs.cluster")),
            service=str(reader.text(ecs["service"], "aws.ecs.service")),
        ),
        rds=None
        if rds is None
        else RdsSettings(
            instance=str(reader.text(rds["instance"], "aws.rds.instance")),
            database=reader.text(rds.get("database"), "aws.rds.database", optional=True),
            dsn_env=_env_name(reader, rds.get("dsn_env"), "aws.rds.dsn_env"),
        ),
        ec2=None if ec2 is None else _ec2(reader, ec2),
        s3=None
        if s3 is None
        else S3Settings(
            media_bucket=reader.text(s3.get("media_bucket"), "aws.s3.media_bucket", optional=True),
            canary_prefix=_canary_prefix(reader, s3.get("canary_prefix", S3Settings.canary_prefix)),
        ),
        logs=None
        if logs is None
        else LogsSettings(
            group=str(reader.text(logs["group"], "aws.logs.group")),
            lookback_minutes=reader.integer(
                logs.get("lookback_minutes", LogsSettings.lookback_minutes),
                "aws.logs.lookback_minutes",
                minimum=1,
                maximum=10080,
            ),
        ),
    )


def _parse_credentials(reader: _Reader, data: Any, base_dir: Path) -> Credentials:
    if data is None:
        return Credentials(admin_token_env=None, canary_token_env=None)
    section = reader.section(
        data, "credentials", {"admin_token_env", "canary_token_env", "admin_token_file", "canary_token_file"}
    )
    return Credentials(
        admin_token_env=_env_name(reader, section.get("admin_token_env"), "credentials.admin_token_env"),
        canary_token_env=_env_name(reader, section.get("canary_token_env"), "credentials.canary_token_env"),
        admin_token_file=_existing_file(
            reader, section.get("admin_token_file"), "credentials.admin_token_file", base_dir
        ),
        canary_token_file=_existing_file(
            reader, section.get("canary_token_file"), "credentials.canary_token_file", base_dir
        ),
    )


def _parse_canary(reader: _Reader, data: Any) -> Canary | None:
    if data is None:
        return None
    section = reader.section(data, "canary", {"user_id", "room", "message_budget_s"}, {"user_id", "room"})
    user_id = str(reader.text(section["user_id"], "canary.user_id"))
    if not re.match(r"^@[^:\s]+:\S+$", user_id):
        raise reader.fail("canary.user_id", f"must be a Matrix user id like '@name:server', got {user_id!r}")
    room = str(reader.text(section["room"], "canary.room"))
    if not re.match(r"^[#!][^:\s]+:\S+$", room):
        raise reader.fail("canary.room", f"must be a room alias '#name:server' or id '!id:server', got {room!r}")
    budget = reader.number(section.get("message_budget_s", 10), "canary.message_budget_s", minimum=1, maximum=300)
    return Canary(user_id=user_id, room=room, message_budget_s=budget)


_TOP_LEVEL = {
    "name",
    "embedded",
    "homeserver",
    "edge",
    "tls",
    "dns",
    "network",
    "aws",
    "credentials",
    "canary",
    "reporting",
    "thresholds",
}


def _parse_reporting(reader: _Reader, data: Any) -> Reporting:
    if data is None:
        return Reporting()
    section = reader.section(data, "reporting", {"pushgateway_url", "job"})
    url = reader.text(section.get("pushgateway_url"), "reporting.pushgateway_url", optional=True)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
            raise reader.fail("reporting.pushgateway_url", f"must be an http(s) URL without credentials, got {url!r}")
        url = url.rstrip("/")
    job = reader.text(section.get("job", Reporting.job), "reporting.job")
    if not job or not re.match(r"^[A-Za-z0-9_.-]+$", job):
        raise reader.fail("reporting.job", f"must be a plain name (letters, digits, _ . -), got {job!r}")
    return Reporting(pushgateway_url=url, job=job)


def _parse_thresholds(reader: _Reader, data: Any) -> Thresholds:
    if data is None:
        return Thresholds()
    limits = {
        "latency_p95_ms": (1, 600_000),
        "ecs_cpu_percent": (1, 100),
        "ecs_memory_percent": (1, 100),
        "rds_min_free_storage_mb": (0, 10_000_000),
        "room_state_events": (1, 1_000_000_000),
    }
    section = reader.section(data, "thresholds", set(limits))
    values = {
        name: reader.number(section[name], f"thresholds.{name}", minimum=low, maximum=high)
        for name, (low, high) in limits.items()
        if name in section
    }
    return Thresholds(**values)


def parse_target(document: Any, *, source: str, base_dir: Path, environ: Mapping[str, str] | None = None) -> Target:
    """Validates an already-loaded YAML document; `base_dir` anchors relative paths."""
    reader = _Reader(source, os.environ if environ is None else environ)
    if document is None:
        raise reader.fail("", "the file is empty")
    top = reader.section(document, "", _TOP_LEVEL, {"name"})
    name = reader.text(top["name"], "name")
    assert name is not None
    embedded = reader.boolean(top.get("embedded", False), "embedded")
    if embedded:
        extra = sorted(set(top) - {"name", "embedded"})
        if extra:
            raise reader.fail(extra[0], "an embedded target is generated at boot; give only 'name' and 'embedded'")
        homeserver = None
    else:
        if "homeserver" not in top or top["homeserver"] is None:
            raise reader.fail("homeserver", "is required")
        homeserver = _parse_homeserver(reader, top["homeserver"])
    return Target(
        name=name,
        source=source,
        embedded=embedded,
        homeserver=homeserver,
        edge=_parse_edge(reader, top.get("edge")),
        tls=_parse_tls(reader, top.get("tls"), base_dir),
        dns=_parse_dns(reader, top.get("dns")),
        network=_parse_network(reader, top.get("network")),
        aws=_parse_aws(reader, top.get("aws"), base_dir),
        credentials=_parse_credentials(reader, top.get("credentials"), base_dir),
        canary=_parse_canary(reader, top.get("canary")),
        reporting=_parse_reporting(reader, top.get("reporting")),
        thresholds=_parse_thresholds(reader, top.get("thresholds")),
        unset_variables=dict(reader.unset_variables),
    )


def load_target(path: Path, *, environ: Mapping[str, str] | None = None) -> Target:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TargetError(source, "", "no such target file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TargetError(source, "", f"cannot read the file ({error})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise TargetError(source, "", f"not valid YAML{where}: {problem}") from None
    return parse_target(document, source=source, base_dir=path.parent, environ=environ)
