"""The edge standing in for Cloudflare: TLS + HTTP/2 termination and a reverse proxy.

Run as its own process: `python -m stack.edge <state>/edge.json`. Everything it does is
driven by that file, re-read whenever its mtime changes (see `_config.ConfigSource`):

- request-level behaviour (routing, well-knowns, timeouts, `faults`) applies to the next
  request without a restart;
- TLS-level behaviour (listen ports, certificate, ALPN) is read at process start, so faults of
  that kind restart the edge.

It listens on `listen_port` (the zone's 443), on `address_ports` (the same, standing for more of
the zone's addresses) and on `federation_port` (an SRV target's port, where the server name's
host is proxied to the origin too).
"""

from stack.edge._config import EdgeConfig, Timeouts, load_config, save_config

__all__ = ["EdgeConfig", "Timeouts", "load_config", "save_config"]
