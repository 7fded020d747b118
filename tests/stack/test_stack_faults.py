"""Faults are real: Synapse is stopped for real, and the edge shows it as Cloudflare would."""

from __future__ import annotations

import httpx
import pytest

from stack import FAULTS, Deployment, StackError

pytestmark = pytest.mark.stack

VERSIONS = "https://chat.phenom.test/_matrix/client/versions"


def test_synapse_down_gives_502_and_heals(deployment: Deployment, client: httpx.Client) -> None:
    with deployment.injected("synapse-down"):
        status = deployment.status()
        assert status["synapse"] is False
        assert status["faults"] == "synapse-down"
        response = client.get(VERSIONS)
        assert response.status_code == 502
        assert "Bad gateway" in response.text
        assert "Cloudflare" in response.text
        assert response.headers["server"] == "cloudflare"
    assert deployment.status()["synapse"] is True
    assert deployment.status()["faults"] == ""
    assert client.get(VERSIONS).status_code == 200


def test_fault_is_idempotent_and_heal_all(deployment: Deployment, client: httpx.Client) -> None:
    deployment.fault("synapse-down")
    deployment.fault("synapse-down")
    deployment.heal()
    assert client.get(VERSIONS).status_code == 200


def test_unknown_fault_is_refused(deployment: Deployment) -> None:
    with pytest.raises(StackError, match="unknown fault 'nope'"):
        deployment.fault("nope")


def test_faults_name_their_failure_mode() -> None:
    assert FAULTS["synapse-down"] == "origin-down"
