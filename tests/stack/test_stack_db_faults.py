"""Database faults are real: PostgreSQL stopped, or its connection slots taken, as seen through the edge."""

from __future__ import annotations

import httpx
import pytest

from stack import Deployment

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


def test_db_pool_exhausted_refuses_synapse_its_connections_and_heals(
    deployment: Deployment, client: httpx.Client
) -> None:
    log = deployment.state_dir / "synapse.log"
    logged_before = log.stat().st_size
    with deployment.injected("db-pool-exhausted"):
        assert [client.get(ALIAS_LOOKUP).status_code for _ in range(3)] == [500, 500, 500]
        assert client.get(VERSIONS).status_code == 200
    assert all(client.get(ALIAS_LOOKUP).status_code == 404 for _ in range(6))
    with log.open("rb") as stream:
        stream.seek(logged_before)
        logged = stream.read().decode(errors="replace")
    # What an engineer tailing the logs would see, and what the log checks will search for.
    assert "remaining connection slots are reserved" in logged or "too many clients" in logged
