"""blackbox_exporter's phases of a request (issue 16), from the prober against a real TLS server on
loopback: `resolve` is the name lookup of the connection, timed apart from `connect`, and 0 when
`network.connect_to` maps the host (nothing is looked up); a name that does not resolve is still
told as a DNS failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthetics.probe import Prober
from synthetics.target import Target, parse_target
from tests.support.hostile_server import HostileServer


def _target(ca_bundle: Path, base_url: str, connect_to: dict[str, str] | None = None) -> Target:
    network: dict[str, Any] = {"timeout_s": 2.0}
    if connect_to is not None:
        network |= {"connect_to_only": True, "connect_to": connect_to}
    return parse_target(
        {
            "name": "phases",
            "homeserver": {"base_url": base_url, "server_name": "phases.test"},
            "tls": {"ca_bundle": str(ca_bundle)},
            "network": network,
        },
        source="phases.yaml",
        base_dir=Path("/"),
        environ={},
    )


def test_a_mapped_host_is_not_looked_up_and_a_named_one_is_timed_apart(tmp_path: Path) -> None:
    with HostileServer("status-500", ("chat.phases.test", "localhost"), tmp_path) as server:
        mapped = Prober(_target(server.ca_bundle, "https://chat.phases.test",
                                {"chat.phases.test:443": f"127.0.0.1:{server.port}"}))  # fmt: skip
        named = Prober(_target(server.ca_bundle, f"https://localhost:{server.port}"))
        try:
            first = mapped.fetch("/_matrix/client/versions")
            again = mapped.fetch("/_matrix/client/versions")  # the same thread's pooled connection
            looked_up = named.fetch("/_matrix/client/versions")  # localhost, from /etc/hosts
        finally:
            mapped.close()
            named.close()
    assert first.status == 500 and looked_up.status == 500, (first.error, looked_up.error)
    assert first.phases_ms["resolve"] == 0.0 and first.phases_ms["connect"] > 0 and first.phases_ms["tls"] > 0
    assert not {"resolve", "connect", "tls"} & set(again.phases_ms) and "processing" in again.phases_ms
    assert looked_up.phases_ms["resolve"] >= 0.0 and looked_up.phases_ms["connect"] >= 0.0
    spent = sum(looked_up.phases_ms[p] for p in ("resolve", "connect", "tls", "processing", "transfer"))
    assert spent <= looked_up.phases_ms["total"] + 0.5  # the lookup is no longer counted in connect too


def test_a_name_that_does_not_resolve_is_a_dns_failure(tmp_path: Path) -> None:
    with HostileServer("status-500", ("localhost",), tmp_path) as server:
        prober = Prober(_target(server.ca_bundle, "https://no-such-host.invalid"))
        try:
            exchange = prober.fetch("/_matrix/client/versions")
        finally:
            prober.close()
    assert exchange.status is None and exchange.error is not None
    assert exchange.error.kind == "dns", exchange.error
