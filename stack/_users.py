"""The suite's own accounts on the reference deployment: a canary user with its room, and an admin.

Registered at boot with Synapse's shared secret, on Synapse's loopback listener: the edge blocks
/_synapse/admin, as a production proxy should. Only the access tokens are kept, each in a 0600
file; the passwords exist only for the registration call and no value of either is ever logged or
put into an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import urllib.parse
from typing import Any

import httpx

from stack._errors import StackError
from stack._layout import Layout
from stack._secrets import new_secret, write_private
from stack._synapse import SERVER_NAME

log = logging.getLogger(__name__)

CANARY_LOCALPART = "synthetics-canary"
ADMIN_LOCALPART = "synthetics-admin"
CANARY_USER_ID = f"@{CANARY_LOCALPART}:{SERVER_NAME}"
ADMIN_USER_ID = f"@{ADMIN_LOCALPART}:{SERVER_NAME}"
CANARY_ROOM_ALIAS_NAME = "synthetics-canary"
CANARY_ROOM = f"#{CANARY_ROOM_ALIAS_NAME}:{SERVER_NAME}"

# Per call: registration hashes a password with bcrypt, a fraction of a second on a busy machine.
CALL_TIMEOUT_S = 10.0
# For the whole provisioning, so a Synapse that answers slowly cannot stretch the boot unbounded.
TOTAL_TIMEOUT_S = 30.0
# A fresh database's background updates take well under a second without their pauses.
BACKGROUND_UPDATES_TIMEOUT_S = 15.0


class _Synapse:
    """HTTP calls to Synapse's loopback listener, each bounded by what is left of one deadline."""

    def __init__(self, client: httpx.Client, base_url: str, deadline: float) -> None:
        self._client = client
        self._base_url = base_url
        self._deadline = deadline

    def call(
        self, method: str, path: str, *, token: str | None = None, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise StackError(f"users: no time left for {method} {path}")
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        try:
            response = self._client.request(
                method,
                self._base_url + path,
                json=body,
                headers=headers,
                timeout=min(CALL_TIMEOUT_S, left),
            )
        except httpx.HTTPError as err:
            raise StackError(f"users: {method} {path} failed: {type(err).__name__}: {err}") from err
        if response.status_code != 200:
            # Synapse's errcode and error never echo the request's password or token.
            raise StackError(f"users: {method} {path} answered {response.status_code}: {_error_of(response)}")
        try:
            document = response.json()
        except ValueError as err:
            raise StackError(f"users: {method} {path} answered 200 with a body that is not JSON") from err
        if not isinstance(document, dict):
            raise StackError(f"users: {method} {path} answered 200 with a body that is not a JSON object")
        return document


def _error_of(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return "(no JSON body)"
    if isinstance(document, dict):
        return f"{document.get('errcode')}: {document.get('error')}"
    return "(not a JSON object)"


def mac(shared_secret: str, nonce: str, username: str, password: str, *, admin: bool) -> str:
    """Synapse's shared-secret registration MAC (HMAC-SHA1 over the NUL-separated fields)."""
    digest = hmac.new(shared_secret.encode(), digestmod=hashlib.sha1)
    for index, part in enumerate((nonce, username, password, "admin" if admin else "notadmin")):
        if index:
            digest.update(b"\x00")
        digest.update(part.encode())
    return digest.hexdigest()


def _register(synapse: _Synapse, shared_secret: str, username: str, *, admin: bool) -> str:
    """Registers the user and returns its access token (no separate login: one bcrypt hash less)."""
    path = "/_synapse/admin/v1/register"
    nonce = synapse.call("GET", path).get("nonce")
    if not isinstance(nonce, str):
        raise StackError(f"users: GET {path} gave no nonce")
    # Thrown away after this call: a fresh deployment gets fresh users, so nobody logs in again.
    password = new_secret()
    answer = synapse.call(
        "POST",
        path,
        body={
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac(shared_secret, nonce, username, password, admin=admin),
        },
    )
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise StackError(f"users: registering {username} gave no access token")
    return token


def provision(layout: Layout, synapse_port: int) -> None:
    """Register both users, write their tokens and create the canary's room. Synapse must be healthy."""
    shared_secret = layout.registration_secret.read_text().strip()
    deadline = time.monotonic() + TOTAL_TIMEOUT_S
    with httpx.Client(trust_env=False) as client:
        synapse = _Synapse(client, f"http://127.0.0.1:{synapse_port}", deadline)
        canary = _register(synapse, shared_secret, CANARY_LOCALPART, admin=False)
        write_private(layout.canary_token, canary + "\n")
        admin = _register(synapse, shared_secret, ADMIN_LOCALPART, admin=True)
        write_private(layout.admin_token, admin + "\n")
        # The journey checks and the tests send messages as the canary, often in quick succession;
        # Synapse's default message rate limit (a burst of 10) would answer them 429.
        user = urllib.parse.quote(CANARY_USER_ID, safe="")
        synapse.call("POST", f"/_synapse/admin/v1/users/{user}/override_ratelimit", token=admin, body={})
        room = synapse.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            token=canary,
            body={"room_alias_name": CANARY_ROOM_ALIAS_NAME, "preset": "private_chat", "name": "Synthetics canary"},
        )
    log.info("users: %s and %s registered; %s is %s", CANARY_USER_ID, ADMIN_USER_ID, CANARY_ROOM, room.get("room_id"))


def wait_background_updates(layout: Layout, synapse_port: int) -> None:
    """Wait, as the admin, until Synapse has no background update left.

    Pending updates are what the suite reports as slow performance, so a deployment that is up
    must have finished the ones its fresh database starts with.
    """
    admin = layout.admin_token.read_text().strip()
    deadline = time.monotonic() + BACKGROUND_UPDATES_TIMEOUT_S
    pending: object = None
    with httpx.Client(trust_env=False) as client:
        synapse = _Synapse(client, f"http://127.0.0.1:{synapse_port}", deadline)
        while time.monotonic() < deadline:
            status = synapse.call("GET", "/_synapse/admin/v1/background_updates/status", token=admin)
            pending = status.get("current_updates")
            if not pending:
                return
            time.sleep(0.1)
    raise StackError(f"synapse: background updates still running after {BACKGROUND_UPDATES_TIMEOUT_S:.0f} s: {pending}")
