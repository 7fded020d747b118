"""edge.json: the edge's whole behaviour, as data."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    # Cloudflare waits 100 s for the origin's response before its 524; Synapse long-polls
    # (/sync) for up to 30 s, so the read timeout must stay well above that.
    connect_s: float = 5.0
    read_s: float = 100.0
    write_s: float = 30.0
    pool_s: float = 5.0


@dataclass(frozen=True)
class EdgeConfig:
    listen_host: str
    listen_port: int
    certfile: str
    keyfile: str
    origin_url: str  # Synapse's client/federation listener, plain HTTP on loopback
    origin_host: str  # proxied to the origin, e.g. chat.phenom.test
    apex_host: str  # serves the .well-known files, e.g. phenom.test
    wellknown_server: dict[str, Any]
    wellknown_client: dict[str, Any]
    alpn: list[str] = field(default_factory=lambda: ["h2", "http/1.1"])
    # The newest TLS version the edge offers ("TLSv1.1", say); None: TLS 1.2 and 1.3, as Cloudflare.
    # Older than 1.2, the edge also takes TLS 1.0 and the ciphers OpenSSL 3 allows only at security
    # level 0. Read at process start.
    max_tls_version: str | None = None
    colo: str = "IAD"
    timeouts: Timeouts = field(default_factory=Timeouts)
    # Paths the edge answers 404 for instead of proxying, as Synapse's reverse-proxy docs advise.
    blocked_prefixes: list[str] = field(default_factory=lambda: ["/_synapse/admin", "/_synapse/metrics"])
    # Ports held bound but never listening, so connecting there is refused: Cloudflare proxies
    # only a few HTTPS ports, and the target maps 8448 (federation's default) here.
    closed_ports: list[int] = field(default_factory=list)
    # More listeners like the one on `listen_port`, each standing for more of the zone's anycast
    # addresses (a target maps an address there, for probes of one address): they answer as it does
    # unless a fault switch names their port (`keys-differ-by-address`). Read at process start.
    address_ports: list[int] = field(default_factory=list)
    # A listener for federation on a port of its own, as Cloudflare's 8443 with an origin rule: there
    # every host of the zone is proxied to the origin, the server name's too, so an SRV record naming
    # this port (through `connect_to`) reaches Synapse with `Host` the server name. Read at process start.
    federation_port: int | None = None
    # Where the edge appends one JSON line per request (host, method, path, query keys, status), so a
    # test can count what a run asked of it; None: no request log. Read at process start.
    request_log: str | None = None
    # Fault switches, by name, each with its parameters (see `_faults.Switches`). Unknown names
    # are kept and ignored; healing a fault removes its switch, leaving the rest as it was.
    faults: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EdgeConfig:
        values = dict(data)
        values["timeouts"] = Timeouts(**values.get("timeouts", {}))
        return cls(**values)


def load_config(path: Path) -> EdgeConfig:
    return EdgeConfig.from_json(json.loads(path.read_text()))


def save_config(path: Path, config: EdgeConfig) -> None:
    # Replaced atomically: the running edge may re-read the file at any moment.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2) + "\n")
    os.replace(tmp, path)


class ConfigSource:
    """The current edge.json, re-read when its mtime or size changes.

    One stat per request is cheap and lets faults be switched without restarting the edge.
    A file that does not parse keeps the last good configuration in force.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp = self._read_stamp()
        self._config = load_config(path)

    def _read_stamp(self) -> tuple[int, int, int, int]:
        # The inode too: every save is a new file, and two saves within one timestamp tick (a
        # fault and its heal in quick succession) may leave mtime and size unchanged.
        st = self._path.stat()
        return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size

    def current(self) -> EdgeConfig:
        try:
            stamp = self._read_stamp()
        except OSError as err:
            log.warning("edge: keeping the previous configuration: %s", err)
            return self._config
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._config = load_config(self._path)
                log.info("edge: reloaded %s", self._path)
            except (OSError, ValueError, TypeError) as err:
                log.warning("edge: keeping the previous configuration: %s", err)
        return self._config
