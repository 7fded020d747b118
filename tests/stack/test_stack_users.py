"""The suite's users made at boot: their tokens, the canary's room, and messages that go nowhere."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from stack import FAULTS, Deployment
from tests.stack._helpers import edge_client, state_json

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
BASE = "https://chat.phenom.test"
CANARY = "@synthetics-canary:phenom.test"
ADMIN = "@synthetics-admin:phenom.test"
ROOM_ALIAS = "#synthetics-canary:phenom.test"


def token(deployment: Deployment, name: str) -> str:
    return (deployment.state_dir / "secrets" / f"{name}-token").read_text().strip()


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@pytest.fixture(scope="module")
def synapse_url(deployment: Deployment) -> str:
    return f"http://127.0.0.1:{state_json(deployment.state_dir)['ports']['synapse']}"


@pytest.fixture(scope="module")
def canary(deployment: Deployment) -> Iterator[httpx.Client]:
    """The canary user's client through the edge, as the journey checks reach the homeserver."""
    with edge_client(deployment.target_path) as client:
        client.headers.update(bearer(token(deployment, "canary")))
        yield client


@pytest.fixture(scope="module")
def room_id(canary: httpx.Client) -> str:
    response = canary.get(f"{BASE}/_matrix/client/v3/directory/room/{quoted(ROOM_ALIAS)}")
    assert response.status_code == 200, response.text
    room: str = response.json()["room_id"]
    return room


def send(client: httpx.Client, room: str, body: str) -> httpx.Response:
    url = f"{BASE}/_matrix/client/v3/rooms/{quoted(room)}/send/m.room.message/{uuid.uuid4().hex}"
    return client.put(url, json={"msgtype": "m.text", "body": body})


def recent_event_ids(client: httpx.Client, room: str) -> list[str]:
    response = client.get(f"{BASE}/_matrix/client/v3/rooms/{quoted(room)}/messages", params={"dir": "b", "limit": 50})
    assert response.status_code == 200, response.text
    return [event["event_id"] for event in response.json()["chunk"]]


def sync(client: httpx.Client, room: str, *, since: str | None = None, wait_ms: int = 0) -> dict[str, Any]:
    room_filter = {"room": {"rooms": [room], "timeline": {"limit": 50}}, "presence": {"not_types": ["*"]}}
    params = {"timeout": str(wait_ms), "filter": json.dumps(room_filter)}
    if since is not None:
        params["since"] = since
    response = client.get(f"{BASE}/_matrix/client/v3/sync", params=params, timeout=wait_ms / 1000 + 5)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def synced_event_ids(client: httpx.Client, room: str, since: str) -> list[str]:
    """What an incremental sync delivers within 2 s; Synapse caches an initial sync for minutes."""
    joined = sync(client, room, since=since, wait_ms=2000).get("rooms", {}).get("join", {})
    return [event["event_id"] for event in joined.get(room, {}).get("timeline", {}).get("events", [])]


def test_token_files_are_private(deployment: Deployment) -> None:
    for name in ("canary", "admin"):
        path = deployment.state_dir / "secrets" / f"{name}-token"
        assert path.stat().st_mode & 0o777 == 0o600, path
        assert path.read_text().strip()


def test_tokens_belong_to_their_users(deployment: Deployment, client: httpx.Client) -> None:
    for name, user_id in (("canary", CANARY), ("admin", ADMIN)):
        response = client.get(f"{BASE}/_matrix/client/v3/account/whoami", headers=bearer(token(deployment, name)))
        assert response.status_code == 200, (name, response.text)
        assert response.json()["user_id"] == user_id


def test_only_the_admin_token_is_admin(deployment: Deployment, synapse_url: str) -> None:
    url = f"{synapse_url}/_synapse/admin/v2/users/{quoted(CANARY)}"
    as_admin = httpx.get(url, headers=bearer(token(deployment, "admin")), timeout=5, trust_env=False)
    assert as_admin.status_code == 200, as_admin.text
    assert as_admin.json()["name"] == CANARY
    assert as_admin.json()["admin"] is False
    as_canary = httpx.get(url, headers=bearer(token(deployment, "canary")), timeout=5, trust_env=False)
    assert as_canary.status_code == 403


def test_canary_room_is_joined(canary: httpx.Client, room_id: str) -> None:
    joined = canary.get(f"{BASE}/_matrix/client/v3/joined_rooms")
    assert joined.status_code == 200, joined.text
    assert room_id in joined.json()["joined_rooms"]
    rules = canary.get(f"{BASE}/_matrix/client/v3/rooms/{quoted(room_id)}/state/m.room.join_rules/")
    assert rules.json()["join_rule"] == "invite"  # preset private_chat


def test_target_names_users_and_admin_url(deployment: Deployment, synapse_url: str) -> None:
    target = yaml.safe_load(deployment.target_path.read_text())
    # Synapse's internal admin listener, not the client listener the edge proxies to.
    admin_port = state_json(deployment.state_dir)["ports"]["admin"]
    assert target["homeserver"]["admin_url"] == f"http://127.0.0.1:{admin_port}"
    version = httpx.get(f"{synapse_url}/_synapse/admin/v1/server_version", timeout=5, trust_env=False)
    assert version.status_code == 200
    assert target["canary"] == {"user_id": CANARY, "room": ROOM_ALIAS}
    for name in ("admin", "canary"):
        assert Path(target["credentials"][f"{name}_token_file"]).read_text().strip() == token(deployment, name)


def test_delivery_stuck_swallows_messages(deployment: Deployment, canary: httpx.Client, room_id: str) -> None:
    assert FAULTS["delivery-stuck"] == "messaging-broken"
    edge_json = deployment.state_dir / "edge.json"
    before = edge_json.read_text()
    with deployment.injected("delivery-stuck"):
        since = sync(canary, room_id)["next_batch"]
        sent = send(canary, room_id, f"stuck {uuid.uuid4()}")
        assert sent.status_code == 200, sent.text
        event_id = sent.json()["event_id"]
        assert event_id.startswith("$")
        assert event_id not in recent_event_ids(canary, room_id)
        assert event_id not in synced_event_ids(canary, room_id, since)
        lookup = canary.get(f"{BASE}/_matrix/client/v3/rooms/{quoted(room_id)}/event/{quoted(event_id)}")
        assert lookup.status_code == 404
        # Everything but the send still reaches Synapse.
        assert canary.get(f"{BASE}/_matrix/client/v3/account/whoami").json()["user_id"] == CANARY
    assert edge_json.read_text() == before
    assert deployment.status()["faults"] == ""
    since = sync(canary, room_id)["next_batch"]
    delivered = send(canary, room_id, f"delivered {uuid.uuid4()}")
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["event_id"] in recent_event_ids(canary, room_id)
    assert delivered.json()["event_id"] in synced_event_ids(canary, room_id, since)


def leaked(state_dir: Path, secrets: list[str]) -> list[str]:
    """Files of the state directory, outside its secrets and PostgreSQL's data, that hold a secret.

    The database itself keeps access tokens (Synapse stores them), so pg/ is not a log.
    """
    found = []
    for path in state_dir.rglob("*"):
        relative = path.relative_to(state_dir)
        if relative.parts[0] in ("secrets", "pg") or not path.is_file():
            continue
        data = path.read_bytes()
        found += [str(relative) for secret in secrets if secret.encode() in data]
    return found


def test_no_token_in_the_session_logs(deployment: Deployment) -> None:
    tokens = [token(deployment, "canary"), token(deployment, "admin")]
    assert leaked(deployment.state_dir, tokens) == []


def test_no_token_in_up_output_or_logs(state_base: Path) -> None:
    state_dir = state_base / "users-up"
    command = [sys.executable, "-m", "stack", "--state-dir", str(state_dir)]
    try:
        up = subprocess.run([*command, "up"], cwd=REPO, capture_output=True, text=True, timeout=90)
        assert up.returncode == 0, up.stderr
        tokens = [(state_dir / "secrets" / f"{name}-token").read_text().strip() for name in ("canary", "admin")]
        assert all(tokens)
        assert [t for t in tokens if t in up.stdout or t in up.stderr] == []
        assert leaked(state_dir, tokens) == []
    finally:
        subprocess.run([*command, "down"], cwd=REPO, capture_output=True, timeout=90)
