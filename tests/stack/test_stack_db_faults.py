"""Database faults are real: PostgreSQL stopped, or its connection slots taken (with Synapse's own pool
busy, or not), as seen through the edge."""

from __future__ import annotations

import httpx
import psycopg2
import pytest

from stack import Deployment
from stack._layout import Layout
from stack._postgres import credentials

pytestmark = pytest.mark.stack

ALIAS_LOOKUP = "https://chat.phenom.test/_matrix/client/v3/directory/room/%23no-such-room:phenom.test"
VERSIONS = "https://chat.phenom.test/_matrix/client/versions"


def test_db_down_fails_database_backed_endpoints_only_and_heals(deployment: Deployment, client: httpx.Client) -> None:
    assert client.get(ALIAS_LOOKUP).status_code == 404
    with deployment.injected("db-down"):
        assert deployment.status()["postgres"] is False
        assert client.get(ALIAS_LOOKUP).status_code == 500
        # The process is up: what separates "database failing" from "origin down".
        assert client.get(VERSIONS).status_code == 200
    assert deployment.status()["postgres"] is True
    assert client.get(ALIAS_LOOKUP).status_code == 404


def test_db_connections_refused_refuses_synapse_its_connections_and_heals(
    deployment: Deployment, client: httpx.Client
) -> None:
    log = deployment.state_dir / "synapse.log"
    logged_before = log.stat().st_size
    with deployment.injected("db-connections-refused"):
        assert [client.get(ALIAS_LOOKUP).status_code for _ in range(3)] == [500, 500, 500]
        assert client.get(VERSIONS).status_code == 200
    assert all(client.get(ALIAS_LOOKUP).status_code == 404 for _ in range(6))
    with log.open("rb") as stream:
        stream.seek(logged_before)
        logged = stream.read().decode(errors="replace")
    # What an engineer tailing the logs would see, and what the log checks will search for.
    assert "remaining connection slots are reserved" in logged or "too many clients" in logged


def _connects_as_synapse(deployment: Deployment) -> str | None:
    """None when PostgreSQL takes one more connection as Synapse's role, else why it refused."""
    try:
        psycopg2.connect(connect_timeout=2, **credentials(Layout(deployment.state_dir).pgpass)).close()
    except psycopg2.OperationalError as refused:
        return str(refused)
    return None


def test_db_pool_exhausted_keeps_synapse_s_pool_busy_with_no_slot_to_spare_and_heals(
    deployment: Deployment, client: httpx.Client
) -> None:
    assert _connects_as_synapse(deployment) is None
    with deployment.injected("db-pool-exhausted"):
        refused = _connects_as_synapse(deployment)
        assert refused is not None and ("connection slots" in refused or "too many clients" in refused), refused
        # Synapse keeps its own connections, busy: database-backed requests wait, and still answer.
        assert client.get(ALIAS_LOOKUP, timeout=15).status_code == 404
        assert client.get(VERSIONS).status_code == 200
    assert _connects_as_synapse(deployment) is None
    assert all(client.get(ALIAS_LOOKUP).status_code == 404 for _ in range(6))
