"""dns.json: the zone the server is authoritative for, and the overlays faults put on it."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

log = logging.getLogger(__name__)

# owner (relative to the origin, "@" for the apex) -> record type -> rdata in master-file syntax
Records = dict[str, dict[str, list[str]]]


@dataclass(frozen=True)
class DnsConfig:
    listen_host: str
    listen_port: int
    origin: str  # e.g. "phenom.test."
    ttl: int  # Cloudflare gives proxied records an "auto" TTL of 300 s
    records: Records
    # Fault overlays, applied in order over `records`: fault name -> owner -> type -> rdata, where
    # an owner mapped to null is removed and a type mapped to [] loses that record set. Healing a
    # fault drops its overlay, so the healthy zone above is never rewritten.
    faults: dict[str, dict[str, dict[str, list[str]] | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DnsConfig:
        return cls(**data)

    def effective_records(self) -> Records:
        merged: Records = {owner: dict(types) for owner, types in self.records.items()}
        for overlay in self.faults.values():
            for owner, types in overlay.items():
                if types is None:
                    merged.pop(owner, None)
                    continue
                current = merged.setdefault(owner, {})
                for rdtype, values in types.items():
                    if values:
                        current[rdtype] = list(values)
                    else:
                        current.pop(rdtype, None)
                if not current:
                    del merged[owner]
        return merged


def build_zone(config: DnsConfig) -> dns.zone.Zone:
    """The zone as dnspython objects; raises ValueError when the data does not make a valid zone."""
    origin = dns.name.from_text(config.origin)
    zone = dns.zone.Zone(origin, relativize=False)
    try:
        for owner, types in config.effective_records().items():
            name = dns.name.from_text(owner, origin=origin)
            if not name.is_subdomain(origin):
                raise ValueError(f"{owner!r} is outside {config.origin}")
            for rdtype_text, values in types.items():
                rdtype = dns.rdatatype.from_text(rdtype_text)
                rdataset = zone.find_rdataset(name, rdtype, create=True)
                for value in values:
                    rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=origin, relativize=False)
                    rdataset.add(rdata, config.ttl)
        # An authoritative zone needs its SOA and NS records at the apex.
        zone.check_origin()
    except dns.exception.DNSException as err:
        raise ValueError(f"invalid zone data: {err}") from err
    return zone


def load_config(path: Path) -> DnsConfig:
    return DnsConfig.from_json(json.loads(path.read_text()))


def save_config(path: Path, config: DnsConfig) -> None:
    # Replaced atomically: the running server may re-read the file at any moment.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2) + "\n")
    os.replace(tmp, path)


class ZoneSource:
    """The current zone, rebuilt when dns.json changes; a file that is not valid keeps the last good zone."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp = self._read_stamp()
        self._config = load_config(path)
        self._zone = build_zone(self._config)

    @property
    def config(self) -> DnsConfig:
        return self._config

    def _read_stamp(self) -> tuple[int, int, int, int]:
        # The inode too: every save is a new file, and two saves within one timestamp tick (a
        # fault and its heal in quick succession) may leave mtime and size unchanged.
        st = self._path.stat()
        return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size

    def current(self) -> dns.zone.Zone:
        try:
            stamp = self._read_stamp()
        except OSError as err:
            log.warning("dns: keeping the previous zone: %s", err)
            return self._zone
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                config = load_config(self._path)
                self._zone = build_zone(config)
                self._config = config
                log.info("dns: reloaded %s (faults: %s)", self._path, ", ".join(config.faults) or "none")
            except (OSError, ValueError, TypeError) as err:
                log.warning("dns: keeping the previous zone: %s", err)
        return self._zone
