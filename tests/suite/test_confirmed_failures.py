"""A fast failure counts only once a second attempt confirms it (issue 14): the prober against real
servers on loopback. A blip answers the retry; a real outage fails it too; a timeout is never tried
again (the run keeps its one deadline), nor is a request that changes something."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import trustme

from synthetics.probe import CONFIRM_AFTER_S, Prober
from synthetics.target import Target, parse_target
from tests.support.hostile_server import Behaviour, HostileServer

HOST = "chat.hostile.test"


def target_for(port: int, ca_bundle: Path, timeout_s: float = 2.0) -> Target:
    return parse_target(
        {
            "name": "confirm",
            "homeserver": {"base_url": f"https://{HOST}", "server_name": "hostile.test"},
            "tls": {"ca_bundle": str(ca_bundle)},
            "network": {
                "timeout_s": timeout_s,
                "connect_to_only": True,
                "connect_to": {f"{HOST}:443": f"127.0.0.1:{port}"},
            },
        },
        source="confirm.yaml",
        base_dir=Path("/"),
        environ={},
    )


def probe(  # type: ignore[no-untyped-def]
    behaviour: Behaviour,
    tmp_path: Path,
    *,
    method: str = "GET",
    timeout_s: float = 2.0,
    transient_statuses: frozenset[int] = frozenset(),
):
    with HostileServer(behaviour, (HOST,), tmp_path) as server:
        prober = Prober(target_for(server.port, server.ca_bundle, timeout_s))
        try:
            started = time.monotonic()
            exchange = prober.fetch("/_matrix/client/versions", method=method, transient_statuses=transient_statuses)
            return exchange, server.requests, time.monotonic() - started
        finally:
            prober.close()


def test_a_blip_answers_on_the_second_attempt_and_keeps_the_first(tmp_path: Path) -> None:
    exchange, requests, took = probe("blip", tmp_path)
    assert (exchange.status, exchange.attempts, requests) == (200, 2, 2)
    assert [earlier.status for earlier in exchange.earlier] == [502]
    assert took >= CONFIRM_AFTER_S
    lines = exchange.attempt_lines()
    assert "attempt 1: HTTP 502 (server: cloudflare)" in lines[0] and "attempt 2: HTTP 200" in lines[1]


def test_an_outage_fails_its_confirming_attempt_too(tmp_path: Path) -> None:
    exchange, requests, _ = probe("status-502", tmp_path)
    assert (exchange.status, exchange.attempts, requests) == (502, 2, 2)


def test_a_server_error_is_confirmed_only_where_the_caller_knows_it_to_be_transient(tmp_path: Path) -> None:
    once, requests_once, _ = probe("status-500", tmp_path)
    assert (once.status, once.attempts, requests_once) == (500, 1, 1)
    again, requests_again, _ = probe("status-500", tmp_path, transient_statuses=frozenset({500}))
    assert (again.status, again.attempts, requests_again) == (500, 2, 2)


def test_a_write_is_never_retried(tmp_path: Path) -> None:
    exchange, requests, _ = probe("blip", tmp_path, method="POST")
    assert (exchange.status, exchange.attempts, requests) == (502, 1, 1)


def test_a_timeout_is_never_retried_and_costs_one_deadline(tmp_path: Path) -> None:
    exchange, _, took = probe("hang", tmp_path, timeout_s=1.0)
    assert exchange.error is not None and exchange.attempts == 1
    assert took < 1.0 + CONFIRM_AFTER_S


def test_a_refused_connection_is_confirmed_before_the_host_counts_as_failed(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
        port = holder.getsockname()[1]
        ca = tmp_path / "ca.pem"
        trustme.CA().cert_pem.write_to_path(str(ca))
        prober = Prober(target_for(port, ca))
        try:
            first = prober.fetch("/_matrix/client/versions")
            again = prober.fetch("/_matrix/client/v3/login")
        finally:
            prober.close()
    assert first.error is not None and first.error.kind == "refused" and first.attempts == 2
    # Failed once confirmed: the next request to that host is not tried at all.
    assert again.reused_failure and again.attempts == 1
