"""The authoritative DNS server standing in for Cloudflare's nameservers of the zone.

Run as its own process: `python -m stack.dns <state>/dns.json`, on loopback, over UDP and TCP.
The listen address is read at start; the zone (records and fault overlays) is re-read whenever
the file changes, so DNS faults take effect on the next query without a restart.
"""

from stack.dns._config import DnsConfig, ZoneSource, build_zone, load_config, save_config
from stack.dns._resolve import answer

__all__ = ["DnsConfig", "ZoneSource", "answer", "build_zone", "load_config", "save_config"]
